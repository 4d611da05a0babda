"""The templates' roles grant exactly the AWS actions the enforcement core calls, no more.

The calls are read from the source of ``awscli_rotate_key/admin/`` (every ``.operation_name(``
that is an operation of a service the core uses), so a new call without its permission, or a
permission left behind after a call went away, fails here. The functional test
(tests/functional/test_lambda_handler.py) then runs the handler with exactly these permissions.
"""

from __future__ import annotations

import re
from pathlib import Path

import botocore.session
from botocore import xform_name

from tests.support import deploy_templates as templates

ADMIN = Path(__file__).resolve().parents[2] / "awscli_rotate_key" / "admin"
README = ADMIN.parents[1] / "README.md"
# Client name -> the prefix of its IAM actions (SES v2's actions are ses:...).
SERVICES = {
    "iam": "iam",
    "sts": "sts",
    "organizations": "organizations",
    "ses": "ses",
    "sesv2": "ses",
    "sns": "sns",
}
NEEDS_NO_PERMISSION = {"sts:GetCallerIdentity"}
# Only in the caller's account: the member role needs none of these.
CALLER_ONLY = {"organizations:ListAccounts", "sts:AssumeRole", "ses:SendEmail", "sns:Publish"}
EVERYTHING_ON = {
    "Apply": "true",
    "DeleteDays": "30",
    "Sender": "security@example.com",
    "SnsTopicArn": "arn:aws:sns:us-east-1:123456789012:key-rotation",
}


def _operations() -> dict[str, set[str]]:
    """``method_name`` -> the actions it may be (a name can belong to several services)."""
    session = botocore.session.get_session()
    found: dict[str, set[str]] = {}
    for service, prefix in SERVICES.items():
        for operation in session.get_service_model(service).operation_names:
            found.setdefault(xform_name(operation), set()).add(f"{prefix}:{operation}")
    return found


def actions_the_core_calls() -> set[str]:
    operations = _operations()
    called: set[str] = set()
    for module in sorted(ADMIN.glob("*.py")):
        source = module.read_text(encoding="utf-8")
        for name in re.findall(r"\.([a-z][a-z0-9_]*)\(", source):
            called |= operations.get(name, set())
        for name in re.findall(r"get_paginator\(\s*[\"']([a-z0-9_]+)[\"']", source):
            called |= operations.get(name, set())
    return called - NEEDS_NO_PERMISSION


def test_the_scan_finds_the_calls_we_know_of() -> None:
    called = actions_the_core_calls()
    assert {"iam:GetCredentialReport", "iam:ListAccessKeys", "sts:AssumeRole"} <= called
    # --exempt-group: one GetGroup per group and account, never a per-user ListGroupsForUser.
    assert "iam:GetGroup" in called and "iam:ListGroupsForUser" not in called


def readme_actions(section: str) -> set[str]:
    """The ``service:Action`` names in README's section of that title."""
    text = README.read_text(encoding="utf-8")
    body = text.split(f"\n### {section}\n", 1)[1].split("\n#", 1)[0]
    return set(re.findall(r"`([a-z0-9]+:[A-Z][A-Za-z]+)`", body))


def test_readmes_permission_lists_name_exactly_what_the_core_calls() -> None:
    assert readme_actions("Permissions of the command") == actions_the_core_calls()
    granted = templates.actions(templates.ENFORCE, "EnforceRole", **EVERYTHING_ON)
    assert readme_actions("Permissions of the scheduled function") == granted


def test_the_function_role_grants_what_the_core_calls_and_nothing_else() -> None:
    granted = templates.actions(templates.ENFORCE, "EnforceRole", **EVERYTHING_ON)
    iam_and_co = {a for a in granted if not a.startswith("logs:")}
    assert iam_and_co == actions_the_core_calls()
    assert granted - iam_and_co == {"logs:CreateLogStream", "logs:PutLogEvents"}


def test_a_dry_run_deployment_cannot_change_anything() -> None:
    granted = templates.actions(
        templates.ENFORCE,
        "EnforceRole",
        Apply="false",
        **{k: v for k, v in EVERYTHING_ON.items() if k != "Apply"},
    )
    changing = {
        "iam:UpdateAccessKey",
        "iam:DeleteAccessKey",
        "iam:TagUser",
        "iam:UntagUser",
        "ses:SendEmail",
        "ses:SendRawEmail",
        "sns:Publish",
    }
    assert not granted & changing
    only_deleting_when_asked = templates.actions(
        templates.ENFORCE, "EnforceRole", **{**EVERYTHING_ON, "DeleteDays": ""}
    )
    assert "iam:DeleteAccessKey" not in only_deleting_when_asked


def test_the_member_role_grants_the_iam_part_and_trusts_only_the_function() -> None:
    arn = "arn:aws:iam::123456789012:role/enforce-EnforceRole-ABC"
    granted = templates.actions(templates.MEMBER_ROLE, "EnforcerRole", EnforcerRoleArn=arn)
    assert granted == actions_the_core_calls() - CALLER_ONLY
    template = templates.load(templates.MEMBER_ROLE)
    trust = template["Resources"]["EnforcerRole"]["Properties"]["AssumeRolePolicyDocument"]
    assert trust["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"AWS": {"Ref": "EnforcerRoleArn"}},
            "Action": "sts:AssumeRole",
        }
    ]
