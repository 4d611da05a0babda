"""rotate-my-key through the real `aws` executable, against moto with signing enforced."""

from __future__ import annotations

import os
import re
import stat

import pytest

from tests.support.cli import PLUGIN_CONFIG
from tests.support.moto import Key

CREDENTIALS_TEMPLATE = """# my keys; keep this comment
[other]
aws_access_key_id = AKIAOTHEROTHEROTHER1
aws_secret_access_key = other-secret

[alice]
aws_access_key_id = {key_id}
aws_secret_access_key = {secret}
; trailing comment
"""


def setup_alice(moto_server, home, age_days=100, **profile_extra):  # type: ignore[no-untyped-def]
    user = moto_server.make_user()
    key = moto_server.make_key(user, age_days=age_days)
    home.credentials.write_text(
        CREDENTIALS_TEMPLATE.format(key_id=key.access_key_id, secret=key.secret_access_key)
    )
    home.credentials.chmod(0o600)
    return user, key


def snapshot(home):  # type: ignore[no-untyped-def]
    return {p.name: p.read_bytes() for p in (home.root / ".aws").iterdir() if p.is_file()}


def test_rotates_the_profile_key_and_deletes_the_old_one(moto_server, aws_home):
    user, old = setup_alice(moto_server, aws_home)

    result = aws_home.run("iam", "rotate-my-key", "--profile", "alice")

    assert result.returncode == 0, result.stderr
    out = result.json
    new_id = out["NewAccessKeyId"]
    assert out == {
        "Rotated": True,
        "UserName": user,
        "OldAccessKeyId": old.access_key_id,
        "NewAccessKeyId": new_id,
        "OldKeyStatus": "Deleted",
        "UpdatedProfiles": ["alice"],
        "UpdatedFiles": [os.path.realpath(aws_home.credentials)],
    }
    assert moto_server.keys(user) == {new_id: "Active"}
    new_id_in_file, new_secret = aws_home.profile_key("alice")
    assert new_id_in_file == new_id
    assert aws_home.credentials.read_text() == CREDENTIALS_TEMPLATE.format(
        key_id=new_id, secret=new_secret
    )
    assert stat.S_IMODE(aws_home.credentials.stat().st_mode) == 0o600
    assert new_secret not in result.stdout + result.stderr
    # The new key really works, and nothing is left behind beside the config.
    assert aws_home.run("iam", "list-access-keys", "--profile", "alice").returncode == 0
    assert sorted(os.listdir(aws_home.root / ".aws")) == ["config", "credentials"]


def test_access_key_id_guard_refuses_another_key(moto_server, aws_home):
    user, old = setup_alice(moto_server, aws_home)
    before = snapshot(aws_home)

    result = aws_home.run(
        "iam", "rotate-my-key", "--profile", "alice", "--access-key-id", "AKIANOTTHEKEY0000000"
    )

    assert result.returncode == 3
    assert "AKIANOTTHEKEY0000000" in result.stderr and result.stdout == ""
    assert moto_server.keys(user) == {old.access_key_id: "Active"}
    assert snapshot(aws_home) == before


def test_access_key_id_guard_accepts_the_profile_key(moto_server, aws_home):
    user, old = setup_alice(moto_server, aws_home)
    result = aws_home.run(
        "iam", "rotate-my-key", "--profile", "alice", "--access-key-id", old.access_key_id
    )
    assert result.returncode == 0, result.stderr
    assert old.access_key_id not in moto_server.keys(user)


def test_user_name_guard(moto_server, aws_home):
    user, old = setup_alice(moto_server, aws_home)
    before = snapshot(aws_home)

    wrong = aws_home.run("iam", "rotate-my-key", "--profile", "alice", "--user-name", "mallory")
    assert wrong.returncode == 3 and "mallory" in wrong.stderr
    assert snapshot(aws_home) == before
    assert moto_server.keys(user) == {old.access_key_id: "Active"}

    right = aws_home.run("iam", "rotate-my-key", "--profile", "alice", "--user-name", user)
    assert right.returncode == 0, right.stderr


def test_aws_profile_environment_variable_selects_the_profile(moto_server, aws_home):
    user, old = setup_alice(moto_server, aws_home)
    aws_home.extra_env["AWS_PROFILE"] = "alice"
    result = aws_home.run("iam", "rotate-my-key")
    assert result.returncode == 0, result.stderr
    assert result.json["OldAccessKeyId"] == old.access_key_id
    assert aws_home.profile_key("other")[0] == "AKIAOTHEROTHEROTHER1"


def test_static_key_in_config_file_is_rotated_where_it_lives(moto_server, aws_home):
    user = moto_server.make_user()
    key = moto_server.make_key(user)
    aws_home.config.write_text(
        PLUGIN_CONFIG + "\n[profile cfg]\nregion = us-east-1\n"
        f"aws_access_key_id = {key.access_key_id}\n"
        f"aws_secret_access_key = {key.secret_access_key}\noutput = json\n"
    )
    result = aws_home.run("iam", "rotate-my-key", "--profile", "cfg")
    assert result.returncode == 0, result.stderr
    new_id, new_secret = aws_home.profile_key("cfg")
    assert result.json["UpdatedFiles"] == [os.path.realpath(aws_home.config)]
    assert aws_home.config.read_text() == (
        PLUGIN_CONFIG + "\n[profile cfg]\nregion = us-east-1\n"
        f"aws_access_key_id = {new_id}\naws_secret_access_key = {new_secret}\noutput = json\n"
    )
    assert aws_home.credentials.read_text() == ""


def test_assume_role_profile_rotates_the_source_key_at_the_end_of_the_chain(moto_server, aws_home):
    user, old = setup_alice(moto_server, aws_home)
    with aws_home.config.open("a") as f:
        f.write(
            "[profile middle]\nrole_arn = arn:aws:iam::123456789012:role/a\n"
            "source_profile = alice\n"
            "[profile top]\nrole_arn = arn:aws:iam::123456789012:role/b\n"
            "source_profile = middle\n"
        )
    result = aws_home.run("iam", "rotate-my-key", "--profile", "top")
    assert result.returncode == 0, result.stderr
    assert "source profile 'alice'" in result.stderr
    assert result.json["UpdatedProfiles"] == ["alice"]
    assert aws_home.profile_key("alice")[0] == result.json["NewAccessKeyId"]


@pytest.mark.parametrize(
    "profile_text, env, expected",
    [
        ("[profile p]\nsso_session = s\nsso_account_id = 1\n", {}, "SSO"),
        ("[profile p]\nsso_start_url = https://x\n", {}, "SSO"),
        ("[profile p]\nlogin_session = arn:aws:iam::1:user/u\n", {}, "aws login"),
        ("[profile p]\ncredential_process = /bin/false\n", {}, "credential_process"),
        (
            "[profile p]\nrole_arn = arn:aws:iam::1:role/r\ncredential_source = Environment\n",
            {},
            "credential_source",
        ),
        (
            "[profile p]\nrole_arn = arn:aws:iam::1:role/r\nweb_identity_token_file = /t\n",
            {},
            "web identity",
        ),
        (
            "[profile p]\naws_access_key_id = ASIAXXXXXXXXXXXXXXXX\naws_secret_access_key = s\n"
            "aws_session_token = t\n",
            {},
            "session token",
        ),
        ("[profile p]\nregion = us-east-1\n", {}, "no access key"),
        (
            None,
            {"AWS_ACCESS_KEY_ID": "AKIAENVENVENVENVENV1", "AWS_SECRET_ACCESS_KEY": "s"},
            "AWS_ACCESS_KEY_ID",
        ),
    ],
    ids=[
        "sso-session",
        "sso-legacy",
        "login",
        "process",
        "credential-source",
        "web-identity",
        "session-token",
        "instance-role",
        "environment",
    ],
)
def test_refuses_credential_sources_without_a_long_term_key(
    moto_server, aws_home, profile_text, env, expected
):
    user, old = setup_alice(moto_server, aws_home)
    if profile_text:
        with aws_home.config.open("a") as f:
            f.write(profile_text)
        args = ["--profile", "p"]
    else:
        aws_home.extra_env.update(env, AWS_PROFILE="alice")
        args = []
    before = snapshot(aws_home)

    result = aws_home.run("iam", "rotate-my-key", *args)

    assert result.returncode == 3, result.stderr
    assert expected in result.stderr and "nothing was changed" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert snapshot(aws_home) == before
    assert moto_server.keys(user) == {old.access_key_id: "Active"}


def test_inactive_other_key_is_deleted_first(moto_server, aws_home):
    user, old = setup_alice(moto_server, aws_home)
    other = moto_server.make_key(user, age_days=400, status="Inactive")

    result = aws_home.run("iam", "rotate-my-key", "--profile", "alice")

    assert result.returncode == 0, result.stderr
    assert result.json["DeletedOtherAccessKeyId"] == other.access_key_id
    assert moto_server.keys(user) == {result.json["NewAccessKeyId"]: "Active"}


def test_active_other_key_is_refused_with_its_age_and_last_use(moto_server, aws_home):
    user, old = setup_alice(moto_server, aws_home)
    other = moto_server.make_key(user, age_days=400)
    before = snapshot(aws_home)

    result = aws_home.run("iam", "rotate-my-key", "--profile", "alice")

    assert result.returncode == 3
    assert other.access_key_id in result.stderr
    assert "400 days old" in result.stderr and "last used" in result.stderr
    assert "--delete-other-key" in result.stderr
    assert snapshot(aws_home) == before
    assert moto_server.keys(user) == {old.access_key_id: "Active", other.access_key_id: "Active"}


def test_delete_other_key_makes_room(moto_server, aws_home):
    user, old = setup_alice(moto_server, aws_home)
    other = moto_server.make_key(user, age_days=400)
    result = aws_home.run("iam", "rotate-my-key", "--profile", "alice", "--delete-other-key")
    assert result.returncode == 0, result.stderr
    assert result.json["DeletedOtherAccessKeyId"] == other.access_key_id
    assert moto_server.keys(user) == {result.json["NewAccessKeyId"]: "Active"}


def test_no_delete_leaves_the_old_key_inactive(moto_server, aws_home):
    user, old = setup_alice(moto_server, aws_home)
    result = aws_home.run("iam", "rotate-my-key", "--profile", "alice", "--no-delete")
    assert result.returncode == 0, result.stderr
    assert result.json["OldKeyStatus"] == "Inactive"
    assert moto_server.keys(user) == {
        old.access_key_id: "Inactive",
        result.json["NewAccessKeyId"]: "Active",
    }


def test_every_profile_holding_the_old_key_gets_the_new_one(moto_server, aws_home):
    user, old = setup_alice(moto_server, aws_home)
    aws_home.add_profile("alice-copy", old)
    aws_home.add_profile("alice-cfg", old, where="config", region="eu-west-1")

    result = aws_home.run("iam", "rotate-my-key", "--profile", "alice")

    assert result.returncode == 0, result.stderr
    new_id = result.json["NewAccessKeyId"]
    assert result.json["UpdatedProfiles"] == ["alice", "alice-copy", "alice-cfg"]
    assert result.json["UpdatedFiles"] == [
        os.path.realpath(aws_home.credentials),
        os.path.realpath(aws_home.config),
    ]
    secrets = {aws_home.profile_key(p) for p in ("alice", "alice-copy", "alice-cfg")}
    assert len(secrets) == 1 and next(iter(secrets))[0] == new_id
    assert aws_home.profile_key("other")[0] == "AKIAOTHEROTHEROTHER1"


@pytest.mark.parametrize("age, rotates", [(89, False), (90, True)])
def test_older_than(moto_server, aws_home, age, rotates):
    user, old = setup_alice(moto_server, aws_home, age_days=age + 0.1)
    before = snapshot(aws_home)

    result = aws_home.run("iam", "rotate-my-key", "--profile", "alice", "--older-than", "90")

    assert result.returncode == 0, result.stderr
    if rotates:
        assert result.json["Rotated"] is True
    else:
        assert result.json == {
            "Rotated": False,
            "Reason": "NotDue",
            "AccessKeyId": old.access_key_id,
            "AgeDays": 89,
            "OlderThan": 90,
        }
        assert snapshot(aws_home) == before
        assert moto_server.keys(user) == {old.access_key_id: "Active"}


def test_dry_run_changes_nothing(moto_server, proxied_home, proxy):
    user, old = setup_alice(moto_server, proxied_home)
    other = moto_server.make_key(user, status="Inactive")
    before = snapshot(proxied_home)

    result = proxied_home.run("iam", "rotate-my-key", "--profile", "alice", "--dry-run")

    assert result.returncode == 0, result.stderr
    assert result.json == {
        "Rotated": False,
        "DryRun": True,
        "UserName": user,
        "AccessKeyId": old.access_key_id,
        "AgeDays": 100,
        "Due": True,
        "Profiles": ["alice"],
        "Files": [os.path.realpath(proxied_home.credentials)],
        "OtherKey": {
            "AccessKeyId": other.access_key_id,
            "Status": "Inactive",
            "Action": "Delete",
            "Profiles": [],
        },
        "RetirementRights": {"UpdateAccessKey": "Allowed", "DeleteAccessKey": "Allowed"},
    }
    mutating = {"CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey"}
    assert not mutating & set(proxy.actions()), proxy.actions()
    # The rights checks act on a key that cannot exist: they change nothing.
    old_id = old.access_key_id
    assert proxy.probes() == [("UpdateAccessKey", old_id), ("DeleteAccessKey", old_id)]
    assert snapshot(proxied_home) == before  # no file written, no lock or journal created
    assert moto_server.keys(user) == {old.access_key_id: "Active", other.access_key_id: "Inactive"}


def test_output_text_and_query(moto_server, aws_home):
    user, old = setup_alice(moto_server, aws_home)
    result = aws_home.run(
        "iam",
        "rotate-my-key",
        "--profile",
        "alice",
        "--query",
        "OldAccessKeyId",
        "--output",
        "text",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == old.access_key_id


def test_old_key_is_retired_by_calls_signed_with_the_new_key(moto_server, proxied_home, proxy):
    user, old = setup_alice(moto_server, proxied_home)

    result = proxied_home.run("iam", "rotate-my-key", "--profile", "alice")

    assert result.returncode == 0, result.stderr
    new_id = result.json["NewAccessKeyId"]
    signed = [(c.action, c.key_id) for c in proxy.calls]
    assert ("CreateAccessKey", old.access_key_id) in signed
    assert ("UpdateAccessKey", new_id) in signed and ("DeleteAccessKey", new_id) in signed
    assert ("UpdateAccessKey", old.access_key_id) not in signed
    assert ("DeleteAccessKey", old.access_key_id) not in signed
    assert proxy.actions(new_id).count("ListAccessKeys") >= 2
    first_by_new = [a for a in proxy.actions(new_id)]
    assert first_by_new[:2] == ["ListAccessKeys", "ListAccessKeys"]


def test_new_key_rejected_for_a_while_is_retried(moto_server, proxied_home, proxy):
    user, old = setup_alice(moto_server, proxied_home)
    rule = proxy.reject_unknown_keys(
        {old.access_key_id, moto_server.admin.access_key_id}, seconds=2.5
    )

    result = proxied_home.run("iam", "rotate-my-key", "--profile", "alice", "--verbose")

    assert result.returncode == 0, result.stderr
    assert rule.hits >= 2
    assert moto_server.keys(user) == {result.json["NewAccessKeyId"]: "Active"}


def test_new_key_that_never_works_is_rolled_back(moto_server, proxied_home, proxy):
    user, old = setup_alice(moto_server, proxied_home)
    before = proxied_home.credentials.read_bytes()
    proxy.reject_unknown_keys({old.access_key_id, moto_server.admin.access_key_id})

    result = proxied_home.run("iam", "rotate-my-key", "--profile", "alice", "--wait-timeout", "3")

    assert result.returncode == 4, result.stderr
    assert old.access_key_id in result.stderr
    assert proxied_home.credentials.read_bytes() == before
    assert moto_server.keys(user) == {old.access_key_id: "Active"}
    deletes = [c for c in proxy.calls if c.action == "DeleteAccessKey"]
    assert [c.key_id for c in deletes] == [old.access_key_id]  # the new key, deleted by the old
    assert sorted(os.listdir(proxied_home.root / ".aws")) == ["config", "credentials"]


def test_access_denied_on_retirement_rolls_back(moto_server, proxied_home, proxy):
    user, old = setup_alice(moto_server, proxied_home)
    before = proxied_home.credentials.read_bytes()
    proxy.fail("UpdateAccessKey", "AccessDenied", status=403, times=None)

    result = proxied_home.run("iam", "rotate-my-key", "--profile", "alice")

    assert result.returncode == 4, result.stderr
    assert "AccessDenied" in result.stderr
    assert proxied_home.credentials.read_bytes() == before
    assert moto_server.keys(user) == {old.access_key_id: "Active"}


def test_help_page_documents_options_and_exit_codes(aws_home):
    result = aws_home.run("iam", "rotate-my-key", "help")
    assert result.returncode == 0, result.stderr
    page = re.sub(".\b", "", result.stdout)
    for needle in (
        "--older-than",
        "--no-delete",
        "--delete-other-key",
        "--wait-timeout",
        "--dry-run",
        "Exit codes",
        "rolled back",
        "iam:CreateAccessKey",
        "aws iam rotate-my-key --profile alice --older-than 90",
    ):
        assert needle in page, needle
    words = " ".join(page.split())  # the man renderer justifies lines with extra spaces
    for needle in (
        # The NAME line has the command's one-line summary (it was "rotate-my-key -").
        "NAME rotate-my-key - Rotate the access key of the profile in use",
        # Each option's own text, --no-delete's too (an option group showed only --delete's).
        "Delete the old key after deactivating it",
        "Leave the old key Inactive instead of deleting it",
        # Every field of the dry run, and what Recovered means.
        "DryRun, UserName, AccessKeyId",
        "PendingRecovery",
        "Recovered appears when the run first dealt with a rotation",
        "RolledBack",
        # The exit-code rule for invalid option values.
        "255 under AWS CLI v1, 252 under v2 -- an invalid option value",
        "rotate-my-key: --<option>: <why>",
    ):
        assert needle in words, needle
    assert "default profile" not in words


def test_symlinked_credentials_file_stays_a_link_and_its_target_is_reported(
    moto_server, aws_home, tmp_path
):
    user, old = setup_alice(moto_server, aws_home)
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    target = dotfiles / "aws-credentials"
    aws_home.credentials.rename(target)
    aws_home.credentials.symlink_to(target)

    result = aws_home.run("iam", "rotate-my-key", "--profile", "alice")

    assert result.returncode == 0, result.stderr
    assert result.json["UpdatedFiles"] == [str(target.resolve())]
    assert aws_home.credentials.is_symlink()
    assert os.readlink(aws_home.credentials) == str(target)
    assert aws_home.profile_key("alice")[0] == result.json["NewAccessKeyId"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(os.listdir(dotfiles)) == ["aws-credentials"]  # no temp file left


def test_wait_indicator_only_on_a_terminal(moto_server, proxied_home, proxy):
    import pty
    import subprocess

    user, old = setup_alice(moto_server, proxied_home)
    proxy.reject_unknown_keys({old.access_key_id, moto_server.admin.access_key_id}, seconds=2)
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        proxied_home.argv("iam", "rotate-my-key", "--profile", "alice"),
        env=proxied_home.env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=terminal,
        text=True,
    )
    os.close(terminal)
    out, _ = proc.communicate(timeout=60)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    shown = b"".join(chunks).decode()
    assert proc.returncode == 0, shown
    # The wait was visible on the terminal (the backoff makes it 2 or 3 dots) ...
    assert re.fullmatch(r"\.{2,3}\n", shown.replace("\r", "")), shown
    # ... and a piped stderr (every other test here) gets no dots: only the JSON on stdout.
    assert out.lstrip().startswith("{")
    piped = proxied_home.run("iam", "rotate-my-key", "--profile", "alice")
    assert "." not in piped.stderr


def test_variables_in_the_file_paths_are_expanded_as_botocore_does(moto_server, aws_home, tmp_path):
    # As cron passes them: the variable unexpanded, for botocore (and the plugin) to expand.
    user, old = setup_alice(moto_server, aws_home)
    aws_home.add_profile("alice-cfg", old, where="config")
    aws_home.extra_env.update(
        AWS_CONFIG_FILE="$HOME/.aws/config", AWS_SHARED_CREDENTIALS_FILE="${HOME}/.aws/credentials"
    )
    workdir = tmp_path / "cwd"
    workdir.mkdir()

    result = aws_home.run("iam", "rotate-my-key", "--profile", "alice", cwd=str(workdir))

    assert result.returncode == 0, result.stderr
    new_id = result.json["NewAccessKeyId"]
    assert result.json["UpdatedProfiles"] == ["alice", "alice-cfg"]
    assert aws_home.profile_key("alice")[0] == aws_home.profile_key("alice-cfg")[0] == new_id
    assert moto_server.keys(user) == {new_id: "Active"}
    assert list(workdir.iterdir()) == []  # no directory literally named "$HOME"


@pytest.mark.parametrize(
    "headers",
    [("[profile dev]", '[profile "dev"]'), ("[default]", "[profile default]")],
    ids=["quoted-name", "default"],
)
def test_two_headers_for_the_profile_in_use_are_refused(moto_server, aws_home, headers):
    user = moto_server.make_user()
    mine, theirs = moto_server.make_key(user), moto_server.make_key(moto_server.make_user())
    first, last = headers
    aws_home.config.write_text(
        PLUGIN_CONFIG + f"{first}\naws_access_key_id = {theirs.access_key_id}\n"
        f"aws_secret_access_key = {theirs.secret_access_key}\n"
        + f"{last}\naws_access_key_id = {mine.access_key_id}\n"
        f"aws_secret_access_key = {mine.secret_access_key}\n"
    )
    before = snapshot(aws_home)
    profile = "default" if first == "[default]" else "dev"

    result = aws_home.run("iam", "rotate-my-key", "--profile", profile)

    assert result.returncode == 3, result.stderr
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1 and line.startswith("rotate-my-key: ")
    assert first in line and last in line and str(aws_home.config) in line
    assert "nothing was changed" in line
    assert snapshot(aws_home) == before
    assert moto_server.keys(user) == {mine.access_key_id: "Active"}


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ("aws_access_key_id = {key_id}\n", "no aws_secret_access_key line"),
        ('aws_access_key_id = "{key_id}"\naws_secret_access_key = {secret}\n', "in quotes"),
        ("aws_access_key_id = {key_id}\naws_secret_access_key = '{secret}'\n", "in quotes"),
        ("aws_secret_access_key = {secret}\n", "has an aws_secret_access_key but no aws_acc"),
    ],
    ids=["no-secret", "quoted-key-id", "quoted-secret", "no-key-id"],
)
def test_a_key_botocore_cannot_use_is_refused_before_any_call(
    moto_server, proxied_home, proxy, lines, expected
):
    user = moto_server.make_user()
    key = moto_server.make_key(user)
    proxied_home.credentials.write_text(
        "[alice]\n" + lines.format(key_id=key.access_key_id, secret=key.secret_access_key)
    )
    before = snapshot(proxied_home)

    result = proxied_home.run("iam", "rotate-my-key", "--profile", "alice")

    assert result.returncode == 3, result.stderr
    assert expected in result.stderr and "nothing was changed" in result.stderr
    assert "instance, container" not in result.stderr
    assert "in flight" not in result.stderr and ".." not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert proxy.calls == []
    assert snapshot(proxied_home) == before


def test_a_failed_call_with_no_rotation_in_flight_gives_no_journal_hint(moto_server, aws_home):
    aws_home.add_profile("ghost", Key("AKIAGHOSTGHOSTGHOST1", "not-a-secret"))

    result = aws_home.run("iam", "rotate-my-key", "--profile", "ghost", "--wait-timeout", "2")

    assert result.returncode == 255, result.stderr
    line = result.stderr.strip()
    assert line.startswith("rotate-my-key: ") and "InvalidClientTokenId" in line
    assert len(line.splitlines()) == 1
    assert "journaled" not in line and "in flight" not in line and ".." not in line
