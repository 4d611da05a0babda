"""The exit-code rule for invalid option values, for every option of every command.

An invalid value (wrong type, out of range, empty, options that cannot be used together) is
refused before any AWS call with one line ``<command>: --<option>: <why>`` and the CLI's own
usage exit code: 255 under v1, 252 under v2 (``aws_home.usage_exit_code``). The proxy in front
of moto logs every request, so "no AWS call" is checked, not assumed.
"""

from __future__ import annotations

import pytest

from awscli_rotate_key.commands.audit import AuditAccessKeysCommand
from awscli_rotate_key.commands.enforce import EnforceKeyRotationCommand
from awscli_rotate_key.commands.rotate import RotateMyKeyCommand

# (arguments, the whole stderr line after "<command>: ")
ROTATE_CASES = [
    (["--access-key-id", ""], "--access-key-id: must not be empty"),
    (["--access-key-id", "AKIA-1"], "--access-key-id: 'AKIA-1' is not an access key ID (AKIA...)"),
    (["--user-name", ""], "--user-name: must not be empty"),
    (["--user-name", "alice smith"], "--user-name: 'alice smith' is not an IAM user name"),
    (["--delete", "--no-delete"], "--no-delete: cannot be used with --delete"),
    (["--older-than", "abc"], "--older-than: 'abc' is not a whole number of days"),
    (["--older-than", "1.5"], "--older-than: '1.5' is not a whole number of days"),
    (["--older-than", "-1"], "--older-than: must be 0 or more days, not -1"),
    (["--older-than", ""], "--older-than: '' is not a whole number of days"),
    (["--wait-timeout", "soon"], "--wait-timeout: 'soon' is not a whole number of seconds"),
    (["--wait-timeout", "0"], "--wait-timeout: must be 1 or more seconds, not 0"),
    (["--undo", "--older-than", "90"], "--undo: cannot be used with --older-than"),
    (["--restart-command", ""], "--restart-command: must not be empty"),
    (["--restart-command", "  "], "--restart-command: must not be empty"),
    (["--restart-timeout", "soon"], "--restart-timeout: 'soon' is not a whole number of seconds"),
    (["--restart-timeout", "0"], "--restart-timeout: must be 1 or more seconds, not 0"),
    (["--undo", "--restart-command", "true"], "--undo: cannot be used with --restart-command"),
    (["--mfa-serial", ""], "--mfa-serial: must not be empty"),
    (
        ["--mfa-serial", "arn:aws:iam::123456789012:user/alice"],
        "--mfa-serial: 'arn:aws:iam::123456789012:user/alice' is not an MFA device ARN "
        "(arn:aws:iam::ACCOUNT:mfa/NAME) or a hardware device serial",
    ),
    (
        ["--mfa-serial", "GAHT1"],
        "--mfa-serial: 'GAHT1' is not an MFA device ARN (arn:aws:iam::ACCOUNT:mfa/NAME) or a "
        "hardware device serial",
    ),
    (["--token-code", ""], "--token-code: must not be empty"),
    (["--token-code", "12345"], "--token-code: '12345' is not a 6-digit MFA code"),
    (["--token-code", "12345a"], "--token-code: '12345a' is not a 6-digit MFA code"),
]
AUDIT_CASES = [
    (["--warn-days", "ninety"], "--warn-days: 'ninety' is not a whole number of days"),
    (["--warn-days", "-5"], "--warn-days: must be 0 or more days, not -5"),
    (["--alert-days", "2y"], "--alert-days: '2y' is not a whole number of days"),
    (
        ["--warn-days", "100", "--alert-days", "50"],
        "--alert-days: must not be less than --warn-days (50 < 100)",
    ),
    (["--unused-days", "-1"], "--unused-days: must be 0 or more days, not -1"),
    (["--fail-on", "notice"], "--fail-on: 'notice' is not one of warning, alert"),
    (
        ["--organization", "--account-ids", "123456789012"],
        "--organization: cannot be used with --account-ids",
    ),
    (["--account-ids", "12345"], "--account-ids: '12345' is not a 12-digit account ID"),
    (["--account-ids", ""], "--account-ids: '' is not a 12-digit account ID"),
    (["--role-name", ""], "--role-name: must not be empty"),
    (["--role-name", "my role"], "--role-name: 'my role' is not an IAM role name"),
    (["--max-concurrency", "0"], "--max-concurrency: must be 1 or more, not 0"),
    (["--max-concurrency", "many"], "--max-concurrency: 'many' is not a whole number"),
]
ENFORCE_CASES = [
    (["--remind-days", "x"], "--remind-days: 'x' is not a whole number of days"),
    (["--remind-days", "-1"], "--remind-days: must be 0 or more days, not -1"),
    (["--disable-days", "1.5"], "--disable-days: '1.5' is not a whole number of days"),
    (
        ["--remind-days", "100", "--disable-days", "50"],
        "--disable-days: must not be less than --remind-days (50 < 100)",
    ),
    (["--grace-days", "-1"], "--grace-days: must be 0 or more days, not -1"),
    (["--grace-days", "1000000000"], "--grace-days: must be 36500 or less days, not 1000000000"),
    (
        ["--remind-days", "36501", "--disable-days", "36501"],
        "--remind-days: must be 36500 or less days, not 36501",
    ),
    (
        ["--delete-days", "9" * 40],
        "--delete-days: must be 36500 or less days, not " + "9" * 20 + "...",
    ),
    (
        ["--max-exemption-days", "36501"],
        "--max-exemption-days: must be 36500 or less days, not 36501",
    ),
    (["--remind-every", "0"], "--remind-every: must be 1 or more days, not 0"),
    (
        ["--remind-only", "--delete-days", "30"],
        "--delete-days: cannot be used with --remind-only",
    ),
    (
        ["--remind-only", "--disable-unused-days", "45"],
        "--disable-unused-days: cannot be used with --remind-only",
    ),
    (["--delete-days", "soon"], "--delete-days: 'soon' is not a whole number of days"),
    (["--disable-unused-days", "-3"], "--disable-unused-days: must be 0 or more days, not -3"),
    (["--email-tag", ""], "--email-tag: must not be empty"),
    (["--email-tag", "e,mail"], "--email-tag: 'e,mail' is not an IAM tag key"),
    (["--sender", "nobody"], "--sender: 'nobody' is not an e-mail address"),
    (
        ["--admin-email", "a@example.com"],
        "--admin-email: needs --sender (the SES-verified address to send from)",
    ),
    (
        ["--sender", "k@example.com", "--admin-email", "ops"],
        "--admin-email: 'ops' is not an e-mail address",
    ),
    (["--sns-topic-arn", "topic"], "--sns-topic-arn: 'topic' is not an SNS topic ARN"),
    (["--exempt-tag", ""], "--exempt-tag: must not be empty"),
    (["--max-exemption-days", "a"], "--max-exemption-days: 'a' is not a whole number of days"),
    (["--exempt-group", "two words"], "--exempt-group: 'two words' is not an IAM group name"),
    (["--exclude-account-ids", "1"], "--exclude-account-ids: '1' is not a 12-digit account ID"),
    (
        ["--organization", "--account-ids", "123456789012"],
        "--organization: cannot be used with --account-ids",
    ),
    (["--account-ids", "abc"], "--account-ids: 'abc' is not a 12-digit account ID"),
    (["--role-name", "a role"], "--role-name: 'a role' is not an IAM role name"),
    (["--max-concurrency", "0"], "--max-concurrency: must be 1 or more, not 0"),
]
# A flag takes no value: a stray value is the CLI's own usage error, with the same exit code.
FLAGS = {
    "rotate-my-key": ["--delete-other-key", "--dry-run", "--verbose", "--undo", "--all-profiles"],
    "audit-access-keys": ["--organization"],
    "enforce-key-rotation": ["--remind-only", "--apply", "--organization"],
}


def options_named(cases: list[tuple[list[str], str]]) -> set[str]:
    return {arg[2:] for args, _ in cases for arg in args if arg.startswith("--")}


@pytest.mark.parametrize(
    ("command", "cases"),
    [
        (RotateMyKeyCommand, ROTATE_CASES),
        (AuditAccessKeysCommand, AUDIT_CASES),
        (EnforceKeyRotationCommand, ENFORCE_CASES),
    ],
)
def test_every_option_has_a_bad_value_case(command, cases) -> None:  # type: ignore[no-untyped-def]
    """A new option must join the tables below (the rule holds for every option)."""
    declared = {a["name"] for a in command.ARG_TABLE}
    flags = {f[2:] for f in FLAGS[command.NAME]}
    assert declared == options_named(cases) | flags


@pytest.fixture
def alice(moto_server, proxied_home):  # type: ignore[no-untyped-def]
    """A profile whose key works: without the checks, the runs below would call AWS."""
    user = moto_server.make_user()
    proxied_home.add_profile("alice", moto_server.make_key(user, age_days=100))
    proxied_home.add_profile("default", moto_server.admin)
    return proxied_home


def assert_usage_error(home, proxy, result, line):  # type: ignore[no-untyped-def]
    assert result.returncode == home.usage_exit_code, result.stderr
    assert result.stderr == line + "\n"
    assert result.stdout == ""
    assert proxy.calls == [], [c.action for c in proxy.calls]
    assert proxy.probes() == []  # the rights checks are not in ``calls``


@pytest.mark.parametrize(("args", "why"), ROTATE_CASES, ids=[" ".join(a) for a, _ in ROTATE_CASES])
def test_rotate_my_key_refuses_an_invalid_value_before_any_call(alice, proxy, args, why):  # type: ignore[no-untyped-def]
    result = alice.run("iam", "rotate-my-key", "--profile", "alice", *args)

    assert_usage_error(alice, proxy, result, f"rotate-my-key: {why}")
    assert sorted(p.name for p in (alice.root / ".aws").iterdir()) == ["config", "credentials"]


@pytest.mark.parametrize(("args", "why"), AUDIT_CASES, ids=[" ".join(a) for a, _ in AUDIT_CASES])
def test_audit_access_keys_refuses_an_invalid_value_before_any_call(alice, proxy, args, why):  # type: ignore[no-untyped-def]
    result = alice.run("iam", "audit-access-keys", *args)

    assert_usage_error(alice, proxy, result, f"audit-access-keys: {why}")


@pytest.mark.parametrize(("command", "flag"), [(c, f) for c, flags in FLAGS.items() for f in flags])
def test_a_value_given_to_a_flag_is_a_usage_error(alice, proxy, command, flag):  # type: ignore[no-untyped-def]
    result = alice.run("iam", command, "--profile", "alice", flag, "yes")

    assert result.returncode == alice.usage_exit_code, result.stderr
    assert "Unknown options: yes" in result.stderr
    assert proxy.calls == []
    assert proxy.probes() == []


@pytest.mark.parametrize(
    ("args", "why"), ENFORCE_CASES, ids=[" ".join(a) for a, _ in ENFORCE_CASES]
)
def test_enforce_key_rotation_refuses_an_invalid_value_before_any_call(alice, proxy, args, why):  # type: ignore[no-untyped-def]
    result = alice.run("iam", "enforce-key-rotation", *args)

    assert_usage_error(alice, proxy, result, f"enforce-key-rotation: {why}")
