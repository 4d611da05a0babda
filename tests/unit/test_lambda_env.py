"""The scheduled function's settings: one environment variable per option, checked up front."""

from __future__ import annotations

import re
from dataclasses import fields, replace

import pytest

from awscli_rotate_key.admin.enforce import EnforceSettings
from awscli_rotate_key.admin.lambda_env import (
    LISTS,
    SWITCHES,
    TEXTS,
    VARIABLES,
    WHOLE_NUMBERS,
    SettingError,
    settings_from,
)
from tests.support import deploy_templates

EVERY_VARIABLE = {
    "REMIND_DAYS": "30",
    "DISABLE_DAYS": "45",
    "GRACE_DAYS": "0",
    "REMIND_EVERY": "2",
    "REMIND_ONLY": "False",
    "DELETE_DAYS": "60",
    "DISABLE_UNUSED_DAYS": "50",
    "EMAIL_TAG": "owner-email",
    "SENDER": "security@example.com",
    "ADMIN_EMAILS": "a@example.com, b@example.com a@example.com",
    "SNS_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:key-rotation",
    "EXEMPT_TAG": "exempt until",
    "MAX_EXEMPTION_DAYS": "30",
    "EXEMPT_GROUPS": "break-glass,vendors",
    "EXCLUDE_ACCOUNT_IDS": "111111111111",
    "APPLY": "TRUE",
    "ORGANIZATION": "false",
    "ACCOUNT_IDS": "222222222222,333333333333",
    "ROLE_NAME": "security/KeyRotationEnforcer",
    "MAX_CONCURRENCY": "16",
}


def test_nothing_set_means_the_commands_defaults() -> None:
    assert settings_from({}) == EnforceSettings()
    assert settings_from(dict.fromkeys(VARIABLES, " ")) == EnforceSettings()


def test_every_variable_is_read() -> None:
    assert settings_from(EVERY_VARIABLE) == EnforceSettings(
        remind_days=30,
        disable_days=45,
        grace_days=0,
        remind_every=2,
        remind_only=False,
        delete_days=60,
        disable_unused_days=50,
        email_tag="owner-email",
        sender="security@example.com",
        admin_emails=("a@example.com", "b@example.com"),
        sns_topic_arn="arn:aws:sns:eu-west-1:123456789012:key-rotation",
        exempt_tag="exempt until",
        max_exemption_days=30,
        exempt_groups=("break-glass", "vendors"),
        exclude_account_ids=("111111111111",),
        apply=True,
        organization=False,
        account_ids=("222222222222", "333333333333"),
        role_name="security/KeyRotationEnforcer",
        max_concurrency=16,
    )


def test_every_option_has_a_variable() -> None:
    named = {
        *(field for field, _, _ in WHOLE_NUMBERS.values()),
        *SWITCHES.values(),
        *(field for field, _, _ in TEXTS.values()),
        *(field for field, _, _ in LISTS.values()),
    }
    options = {f.name for f in fields(EnforceSettings)} - {"signing_key_ids"}
    assert named == options
    assert set(EVERY_VARIABLE) == set(VARIABLES)


@pytest.mark.parametrize(
    ("variable", "value", "why"),
    [
        ("REMIND_DAYS", "ninety", "'ninety' is not a whole number"),
        ("DISABLE_DAYS", "-1", "'-1' is not a whole number"),
        ("GRACE_DAYS", "7.5", "'7.5' is not a whole number"),
        ("DELETE_DAYS", "x", "'x' is not a whole number"),
        ("MAX_CONCURRENCY", "0", "must be 1 or more, not 0"),
        ("REMIND_EVERY", "0", "must be 1 or more, not 0"),
        ("GRACE_DAYS", "1000000000", "must be 36500 or less, not 1000000000"),
        ("DISABLE_DAYS", "36501", "must be 36500 or less, not 36501"),
        ("DELETE_DAYS", "9" * 5000, "must be 36500 or less, not 99999999999999999999..."),
        ("SENDER", "security@localhost", "'security@localhost' is not an e-mail address"),
        ("APPLY", "yes", "'yes' is not true or false"),
        ("ORGANIZATION", "1", "'1' is not true or false"),
        ("SENDER", "security", "'security' is not an e-mail address"),
        ("ADMIN_EMAILS", "a@example.com,nobody", "'nobody' is not an e-mail address"),
        ("SNS_TOPIC_ARN", "key-rotation", "'key-rotation' is not an SNS topic ARN"),
        ("ACCOUNT_IDS", "12345", "'12345' is not a 12-digit account ID"),
        ("EXCLUDE_ACCOUNT_IDS", "1234567890123", "is not a 12-digit account ID"),
        ("EXEMPT_GROUPS", "a:b", "'a:b' is not an IAM group name"),
        ("EMAIL_TAG", "e-mail!", "'e-mail!' is not an IAM tag key"),
        ("ROLE_NAME", "no spaces", "'no spaces' is not an IAM role name"),
    ],
)
def test_a_bad_value_names_its_variable(variable: str, value: str, why: str) -> None:
    with pytest.raises(SettingError) as raised:
        settings_from({variable: value})
    message = str(raised.value)
    assert message.startswith(f"enforce-key-rotation: environment variable {variable}: ")
    assert why in message
    assert raised.value.variable == variable


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"REMIND_DAYS": "130"}, "DISABLE_DAYS: must not be less than REMIND_DAYS (120 < 130)"),
        ({"DISABLE_DAYS": "30"}, "DISABLE_DAYS: must not be less than REMIND_DAYS (30 < 90)"),
        (
            {"DELETE_DAYS": "30", "REMIND_ONLY": "true"},
            "DELETE_DAYS: cannot be used with REMIND_ONLY=true",
        ),
        (
            {"ORGANIZATION": "true", "ACCOUNT_IDS": "222222222222"},
            "ORGANIZATION: cannot be used with ACCOUNT_IDS",
        ),
        (
            {"ADMIN_EMAILS": "a@example.com"},
            "ADMIN_EMAILS: needs SENDER (the SES-verified address to send from)",
        ),
    ],
)
def test_the_commands_rules_across_options(environ: dict[str, str], message: str) -> None:
    """The core's rules (EnforceSettings.check), named by their variables."""
    with pytest.raises(SettingError, match=re.escape(f"environment variable {message}")):
        settings_from(environ)


def test_what_the_rules_across_options_allow() -> None:
    assert settings_from({"ORGANIZATION": "false", "ACCOUNT_IDS": "222222222222"}).account_ids
    assert settings_from({"REMIND_DAYS": "120"}).remind_days == 120
    assert settings_from({"DELETE_DAYS": "30", "REMIND_ONLY": "false"}).delete_days == 30


def test_the_event_can_only_force_a_dry_run() -> None:
    applying = {"APPLY": "true"}
    assert settings_from(applying, {"DryRun": True}).apply is False
    assert settings_from(applying, {"DryRun": False}).apply is True
    assert settings_from({}, {"DryRun": False}).apply is False
    # What a schedule or the console sends: anything else in the event is not read.
    assert settings_from(applying, {}).apply is True
    assert settings_from(applying, {"Apply": False, "REMIND_DAYS": 1}) == settings_from(applying)
    assert settings_from(applying, "not a mapping").apply is True


def test_a_bad_dry_run_in_the_event_fails_the_run() -> None:
    with pytest.raises(SettingError, match="the invoking event's DryRun: 'yes' is not true"):
        settings_from({"APPLY": "true"}, {"DryRun": "yes"})


def test_the_template_passes_every_variable_and_its_defaults_are_the_commands() -> None:
    template = deploy_templates.load()
    environment = template["Resources"]["EnforceFunction"]["Properties"]["Environment"]
    passed = environment["Variables"]
    assert set(passed) == set(VARIABLES)
    defaults = deploy_templates.parameter_values(template)
    environ = {name: defaults[ref["Ref"]] for name, ref in passed.items()}
    # The deliberate differences: the role member-role.yaml makes, not the CLI's default; and
    # 16 calls in flight, not 8, so that 1,000 accounts fit well inside the 900 s timeout
    # (README, "Deploy": benchmarks/enforce_scale.py).
    expected = replace(EnforceSettings(), role_name="KeyRotationEnforcer", max_concurrency=16)
    assert settings_from(environ) == expected
    assert template["Parameters"]["RoleName"]["Default"] == "KeyRotationEnforcer"
    member = deploy_templates.load(deploy_templates.MEMBER_ROLE)
    assert member["Parameters"]["RoleName"]["Default"] == "KeyRotationEnforcer"


def broken_rules(**parameters: str) -> list[str]:
    template = deploy_templates.load()
    values = deploy_templates.parameter_values(template, **parameters)
    evaluator = deploy_templates.Evaluator(template, values)
    return [
        name
        for name, rule in template["Rules"].items()
        if evaluator.truth(rule["RuleCondition"])
        and not all(evaluator.truth(a["Assert"]) for a in rule["Assertions"])
    ]


@pytest.mark.parametrize(
    ("parameters", "rule"),
    [
        ({"AdminEmails": "a@example.com"}, "AdminEmailsNeedSender"),
        ({"Organization": "true", "AccountIds": "222222222222"}, "OrganizationOrAccountIds"),
        ({"RemindOnly": "true", "DeleteDays": "30"}, "DeleteDaysOrRemindOnly"),
    ],
)
def test_the_stack_refuses_at_deploy_what_the_function_would_refuse(
    parameters: dict[str, str], rule: str
) -> None:
    assert broken_rules() == []
    assert broken_rules(**parameters) == [rule]
    passed = deploy_templates.load()["Resources"]["EnforceFunction"]["Properties"]
    variable_of = {ref["Ref"]: name for name, ref in passed["Environment"]["Variables"].items()}
    with pytest.raises(SettingError):
        settings_from({variable_of[p]: value for p, value in parameters.items()})
