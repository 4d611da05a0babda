"""A whole enforce-key-rotation run on fakes: accounts, sends, tags, exit codes.

NOW is 2024-06-01 00:00 UTC (the fake report's time); ages are written by hand.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from awscli_rotate_key.admin.enforce import EnforceSettings, enforce
from awscli_rotate_key.admin.notify import SNS_LIMIT, admin_message
from awscli_rotate_key.admin.statetag import STATE_TAG
from tests.unit.test_audit_accounts import CALLER, NOW, FakeIam, FakeKey, days_ago

MEMBER = "222222222222"
MUTATING = ("UpdateAccessKey", "DeleteAccessKey", "TagUser")


def refused(operation: str, code: str = "AccessDenied", message: str = "no") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


@dataclass
class EnforceIam(FakeIam):
    tags: dict[str, dict[str, str]] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)  # group -> its members
    refuse: dict[str, ClientError] = field(default_factory=dict)

    def _maybe_refuse(self, operation: str) -> None:
        if operation in self.refuse:
            raise self.refuse[operation]

    def list_user_tags(self, UserName: str, **_: Any) -> dict[str, Any]:
        self._call(f"ListUserTags {UserName}")
        self._maybe_refuse("ListUserTags")
        pairs = self.tags.get(UserName, {})
        return {"Tags": [{"Key": k, "Value": v} for k, v in pairs.items()], "IsTruncated": False}

    def get_group(self, GroupName: str, Marker: str | None = None) -> dict[str, Any]:
        """One member per page, so that every run pages through Marker."""
        self._call(f"GetGroup {GroupName} {Marker}")
        self._maybe_refuse("GetGroup")
        if GroupName not in self.groups:
            raise refused("GetGroup", "NoSuchEntity", f"The group {GroupName} cannot be found.")
        members, at = self.groups[GroupName], int(Marker or 0)
        page = [{"UserName": name} for name in members[at : at + 1]]
        more = at + 1 < len(members)
        return {"Users": page, "IsTruncated": more, **({"Marker": str(at + 1)} if more else {})}

    def update_access_key(self, UserName: str, AccessKeyId: str, Status: str) -> None:
        self._call(f"UpdateAccessKey {AccessKeyId} {Status}")
        self._maybe_refuse("UpdateAccessKey")
        next(k for k in self.users[UserName] if k.key_id == AccessKeyId).status = Status

    def delete_access_key(self, UserName: str, AccessKeyId: str) -> None:
        self._call(f"DeleteAccessKey {AccessKeyId}")
        self.users[UserName] = [k for k in self.users[UserName] if k.key_id != AccessKeyId]

    def tag_user(self, UserName: str, Tags: list[dict[str, str]]) -> None:
        self._call(f"TagUser {UserName}")
        self._maybe_refuse("TagUser")
        self.tags.setdefault(UserName, {}).update({t["Key"]: t["Value"] for t in Tags})


@dataclass
class Outbox:
    """SES and SNS: what was sent, and what to refuse."""

    mails: list[tuple[list[str], str, str]] = field(default_factory=list)
    published: list[tuple[str, str]] = field(default_factory=list)
    refuse_mail: ClientError | None = None
    refuse_publish: ClientError | None = None

    def send_email(self, Source: str, Destination: Any, Message: Any) -> None:
        if self.refuse_mail:
            raise self.refuse_mail
        body = Message["Body"]["Text"]["Data"]
        self.mails.append((Destination["ToAddresses"], Message["Subject"]["Data"], body))

    def publish(self, TopicArn: str, Subject: str, Message: str) -> None:
        if self.refuse_publish:
            raise self.refuse_publish
        self.published.append((Subject, Message))


@dataclass
class FakeSts:
    assumed: list[str] = field(default_factory=list)  # the role ARNs, in order

    def get_caller_identity(self) -> dict[str, str]:
        return {"Account": CALLER, "Arn": f"arn:aws:iam::{CALLER}:user/admin"}

    def assume_role(self, RoleArn: str, RoleSessionName: str) -> dict[str, Any]:
        assert RoleSessionName == "enforce-key-rotation"
        self.assumed.append(RoleArn)
        return {"Credentials": {"Account": RoleArn.split(":")[4]}}


@dataclass
class FakeClients:
    accounts: dict[str, EnforceIam]
    outbox: Outbox = field(default_factory=Outbox)
    sts: FakeSts = field(default_factory=FakeSts)

    def client(self, service: str, credentials: dict[str, Any] | None = None) -> Any:
        return {"sts": self.sts, "iam": self.accounts[CALLER]}.get(service, self.outbox)

    def member_iam(self, credentials: dict[str, Any]) -> Any:
        return self.accounts[credentials["Account"]]


SETTINGS = EnforceSettings(sender="keys@example.com", apply=True)


def world(**users: list[FakeKey]) -> FakeClients:
    return FakeClients({CALLER: EnforceIam(CALLER, dict(users))})


def mutations(iam: FakeIam) -> list[str]:
    return [c for c in iam.calls if c.split()[0] in MUTATING]


def actions(run: Any) -> dict[str | None, tuple[str, bool]]:
    return {i.key.access_key_id: (i.decision.action, i.applied) for i in run.items}


def test_a_dry_run_calls_nothing_that_changes_or_sends() -> None:
    clients = world(alice=[FakeKey("AKIAOLD", days_ago(130))])
    clients.accounts[CALLER].tags = {"alice": {"email": "alice@example.com"}}
    run = enforce(clients, replace(SETTINGS, apply=False, sns_topic_arn="arn:t"), NOW)
    assert actions(run) == {"AKIAOLD": ("REMIND", False)}
    assert run.to_output()["Actions"][0]["Recipient"] == "alice@example.com"
    assert run.to_output()["DryRun"] is True and run.exit_code == 0
    assert mutations(clients.accounts[CALLER]) == []
    assert clients.outbox == Outbox()


def test_a_two_key_user_loses_only_the_announced_old_key_and_is_told() -> None:
    clients = world(alice=[FakeKey("AKIAOLD", days_ago(130)), FakeKey("AKIANEW", days_ago(3))])
    iam = clients.accounts[CALLER]
    iam.tags = {
        "alice": {"email": "alice@example.com", STATE_TAG: "v1 AKIAOLD0000000000000/x2024-01-01"}
    }
    iam.tags["alice"][STATE_TAG] = "v1 AKIAOLD1234567890123/r2024-05-20/d2024-05-27"
    iam.users["alice"][0].key_id = "AKIAOLD1234567890123"
    run = enforce(clients, SETTINGS, NOW)
    assert actions(run) == {"AKIAOLD1234567890123": ("DISABLE", True)}
    assert mutations(iam) == ["UpdateAccessKey AKIAOLD1234567890123 Inactive", "TagUser alice"]
    assert [k.status for k in iam.users["alice"]] == ["Inactive", "Active"]
    assert iam.tags["alice"][STATE_TAG] == "v1 AKIAOLD1234567890123/x2024-06-01"
    ((to, subject, body),) = clients.outbox.mails
    assert to == ["alice@example.com"] and "disabled" in subject
    assert "key AKIAOLD1234567890123, 130 days old: DISABLED" in body
    assert run.exit_code == 0


def test_one_email_per_address_across_accounts_and_the_tag_records_the_reminder() -> None:
    clients = world(alice=[FakeKey("AKIAAAAAAAAAAAAAAAA1", days_ago(130))])
    member = EnforceIam(MEMBER, {"alice-ci": [FakeKey("AKIAAAAAAAAAAAAAAAA2", days_ago(95))]})
    clients.accounts[MEMBER] = member
    clients.accounts[CALLER].tags = {"alice": {"email": "alice@example.com"}}
    member.tags = {"alice-ci": {"email": "alice@example.com"}}
    run = enforce(clients, replace(SETTINGS, account_ids=(CALLER, MEMBER)), NOW)
    assert actions(run) == {
        "AKIAAAAAAAAAAAAAAAA1": ("REMIND", True),
        "AKIAAAAAAAAAAAAAAAA2": ("REMIND", True),
    }
    ((to, _, body),) = clients.outbox.mails
    assert to == ["alice@example.com"]
    assert (
        f"account {CALLER}, user alice, key AKIAAAAAAAAAAAAAAAA1, 130 days old: "
        "will be disabled on or after 2024-06-08" in body
    )
    assert (
        f"account {MEMBER}, user alice-ci, key AKIAAAAAAAAAAAAAAAA2, 95 days old: "
        "will be disabled on or after 2024-06-26" in body
    )
    assert "aws iam rotate-my-key --profile" in body
    tag = clients.accounts[CALLER].tags["alice"][STATE_TAG]
    assert tag == "v1 AKIAAAAAAAAAAAAAAAA1/r2024-06-01/d2024-06-08"
    assert member.tags["alice-ci"][STATE_TAG] == "v1 AKIAAAAAAAAAAAAAAAA2/r2024-06-01/d2024-06-26"


def test_ses_refusing_the_sender_exits_12_and_the_rest_is_done_but_no_grace_starts() -> None:
    clients = world(
        alice=[FakeKey("AKIAAAAAAAAAAAAAAAA1", days_ago(130))],
        bob=[FakeKey("AKIABBBBBBBBBBBBBBB1", days_ago(130))],
    )
    iam = clients.accounts[CALLER]
    iam.tags = {
        "alice": {"email": "alice@example.com"},
        "bob": {STATE_TAG: "v1 AKIABBBBBBBBBBBBBBB1/r2024-05-20/d2024-05-27"},
    }
    clients.outbox.refuse_mail = refused("SendEmail", "MessageRejected", "not verified")
    run = enforce(clients, SETTINGS, NOW)
    assert actions(run) == {
        "AKIAAAAAAAAAAAAAAAA1": ("REMIND", False),
        "AKIABBBBBBBBBBBBBBB1": ("DISABLE", True),
    }
    alice = run.to_output()["Actions"][0]
    assert alice["Reason"] == (
        "SendEmail: MessageRejected: not verified (not reminded: the grace does not start)"
    )
    assert STATE_TAG not in iam.tags["alice"]
    assert run.exit_code == 12


def test_a_failed_tag_user_exits_12_and_the_reminder_does_not_count() -> None:
    clients = world(alice=[FakeKey("AKIAAAAAAAAAAAAAAAA1", days_ago(130))])
    iam = clients.accounts[CALLER]
    iam.tags = {"alice": {"email": "alice@example.com"}}
    iam.refuse["TagUser"] = refused("TagUser", "LimitExceeded", "50 tags")
    run = enforce(clients, SETTINGS, NOW)
    (item,) = run.to_output()["Actions"]
    assert (item["Action"], item["Applied"]) == ("REMIND", False)
    assert item["Reason"].startswith("TagUser: LimitExceeded: 50 tags (the reminder was sent")
    assert run.exit_code == 12


def test_an_owner_without_address_and_no_admin_channel_is_never_disabled() -> None:
    clients = world(alice=[FakeKey("AKIAAAAAAAAAAAAAAAA1", days_ago(400))])
    run = enforce(clients, SETTINGS, NOW)
    (item,) = run.to_output()["Actions"]
    assert (item["Action"], item["Reason"], item["Applied"]) == ("REMIND", "NoRecipient", False)
    assert mutations(clients.accounts[CALLER]) == [] and run.exit_code == 0
    again = enforce(clients, replace(SETTINGS), NOW + dt.timedelta(days=30))
    assert again.to_output()["Actions"][0]["Action"] == "REMIND"


def test_an_owner_without_address_is_announced_in_the_administrators_summary() -> None:
    clients = world(alice=[FakeKey("AKIAAAAAAAAAAAAAAAA1", days_ago(130))])
    run = enforce(clients, replace(SETTINGS, sns_topic_arn="arn:aws:sns:us-east-1:1:t"), NOW)
    (item,) = run.to_output()["Actions"]
    assert (item["Action"], item["Recipient"], item["Applied"]) == ("REMIND", None, True)
    ((subject, message),) = clients.outbox.published
    assert subject == "enforce-key-rotation: 1 REMIND"
    assert "Owners without an address (announced here):" in message
    assert (
        "REMIND 111111111111 alice AKIAAAAAAAAAAAAAAAA1, age 130, DisableDate 2024-06-08" in message
    )
    tags = clients.accounts[CALLER].tags["alice"]
    assert tags[STATE_TAG] == "v1 AKIAAAAAAAAAAAAAAAA1/r2024-06-01/d2024-06-08"


def test_a_corrupt_state_tag_is_ignored_reported_and_rewritten() -> None:
    clients = world(alice=[FakeKey("AKIAAAAAAAAAAAAAAAA1", days_ago(130))])
    iam = clients.accounts[CALLER]
    iam.tags = {"alice": {"email": "alice@example.com", STATE_TAG: "disable me never"}}
    run = enforce(clients, SETTINGS, NOW)
    (item,) = run.to_output()["Actions"]
    assert (item["Action"], item["DisableDate"]) == ("REMIND", "2024-06-08")
    assert item["Notes"] == [
        "STATE_TAG_IGNORED: key-rotation-state does not start with 'v1'; "
        "it is rewritten on the next action"
    ]
    assert iam.tags["alice"][STATE_TAG] == "v1 AKIAAAAAAAAAAAAAAAA1/r2024-06-01/d2024-06-08"


def test_unreadable_tags_skip_the_user_and_fail_the_account_with_11() -> None:
    clients = world(alice=[FakeKey("AKIAAAAAAAAAAAAAAAA1", days_ago(400))])
    clients.accounts[CALLER].refuse["ListUserTags"] = refused("ListUserTags")
    run = enforce(clients, SETTINGS, NOW)
    (item,) = run.to_output()["Actions"]
    assert (item["Action"], item["Reason"]) == ("SKIPPED", "UserUnreadable")
    assert run.to_output()["Accounts"] == [
        {
            "AccountId": CALLER,
            "Error": "tags of 1 user(s) unreadable: ListUserTags: AccessDenied: no",
            "Notes": [],
        }
    ]
    assert run.exit_code == 11


def test_12_wins_over_11_and_a_dry_run_never_exits_12() -> None:
    clients = world(alice=[FakeKey("AKIAAAAAAAAAAAAAAAA1", days_ago(130))])
    clients.accounts[CALLER].tags = {
        "alice": {STATE_TAG: "v1 AKIAAAAAAAAAAAAAAAA1/r2024-05-20/d2024-05-27"}
    }
    clients.accounts[CALLER].refuse["UpdateAccessKey"] = refused("UpdateAccessKey")
    clients.accounts[MEMBER] = EnforceIam(MEMBER, fail_generate=refused("GenerateCredentialReport"))
    settings = replace(SETTINGS, account_ids=(CALLER, MEMBER))  # MEMBER cannot be read
    run = enforce(clients, settings, NOW)
    assert run.exit_code == 12
    assert run.to_output()["Actions"][0]["Reason"] == "UpdateAccessKey: AccessDenied: no"
    assert enforce(clients, replace(settings, apply=False), NOW).exit_code == 11


def test_users_with_nothing_due_cost_no_tag_call() -> None:
    clients = world(alice=[FakeKey("AKIAAAAAAAAAAAAAAAA1", days_ago(30))])
    run = enforce(clients, SETTINGS, NOW)
    assert run.items == [] and not any("ListUserTags" in c for c in clients.accounts[CALLER].calls)
    assert run.to_output()["Summary"] == {
        "REMIND": 0,
        "DISABLE": 0,
        "DELETE": 0,
        "DISABLE_UNUSED": 0,
        "EXEMPT": 0,
        "SKIPPED": 0,
    }


def test_the_administrators_summary_stays_under_snss_limit() -> None:
    users = {f"user{n:05d}": [FakeKey(f"AKIA{n:016d}", days_ago(400))] for n in range(6000)}
    clients = world(**users)
    run = enforce(clients, replace(SETTINGS, apply=False, sns_topic_arn="arn:t"), NOW)
    _, body, _ = admin_message(run.accounts, run.items, [], False, NOW)
    assert len(body.encode()) < SNS_LIMIT
    assert "more line(s): the full list is in the command's output" in body


@pytest.mark.parametrize("delete_days", [None, 30])
def test_inactive_keys_are_deleted_by_their_own_id(delete_days: int | None) -> None:
    clients = world(
        alice=[
            FakeKey("AKIAAAAAAAAAAAAAAAA1", days_ago(400), "Inactive"),
            FakeKey("AKIAAAAAAAAAAAAAAAA2", days_ago(1)),
        ]
    )
    run = enforce(clients, replace(SETTINGS, delete_days=delete_days), NOW)
    iam = clients.accounts[CALLER]
    if delete_days is None:
        assert run.items == [] and mutations(iam) == []
    else:
        assert actions(run) == {"AKIAAAAAAAAAAAAAAAA1": ("DELETE", True)}
        assert mutations(iam) == ["DeleteAccessKey AKIAAAAAAAAAAAAAAAA1"]  # no tag to update
        assert [k.key_id for k in iam.users["alice"]] == ["AKIAAAAAAAAAAAAAAAA2"]


def test_every_key_of_an_exempt_group_member_is_listed_whether_or_not_due() -> None:
    clients = world(
        alice=[
            FakeKey("AKIAAAAAAAAAAAAAAAA1", days_ago(130)),
            FakeKey("AKIAAAAAAAAAAAAAAAA2", days_ago(10)),
        ],
        bob=[FakeKey("AKIABBBBBBBBBBBBBBB1", days_ago(5), "Inactive")],
        carol=[FakeKey("AKIACCCCCCCCCCCCCCC1", days_ago(10))],
    )
    iam = clients.accounts[CALLER]
    iam.groups = {"break-glass": ["alice", "bob"], "vendors": ["bob"]}
    settings = replace(SETTINGS, exempt_groups=("break-glass", "vendors"), sns_topic_arn="arn:t")
    run = enforce(clients, settings, NOW)
    rows = {a["AccessKeyId"]: a for a in run.to_output()["Actions"]}
    assert {k: (r["Action"], r["Reason"], r["AgeDays"]) for k, r in rows.items()} == {
        "AKIAAAAAAAAAAAAAAAA1": ("EXEMPT", "ExemptGroup", 130),
        "AKIAAAAAAAAAAAAAAAA2": ("EXEMPT", "ExemptGroup", 10),
        "AKIABBBBBBBBBBBBBBB1": ("EXEMPT", "ExemptGroup", 5),
    }
    assert rows["AKIAAAAAAAAAAAAAAAA2"]["Notes"] == ["EXEMPT_GROUP: break-glass"]
    assert rows["AKIABBBBBBBBBBBBBBB1"]["Notes"] == ["EXEMPT_GROUP: break-glass, vendors"]
    # One GetGroup per group name, every page; no per-user group or tag call for members.
    assert [c for c in iam.calls if c.startswith("GetGroup")] == [
        "GetGroup break-glass None",
        "GetGroup break-glass 1",
        "GetGroup vendors None",
    ]
    assert not [c for c in iam.calls if c.startswith(("ListGroupsForUser", "ListUserTags"))]
    assert mutations(iam) == [] and run.exit_code == 0
    ((_, message),) = clients.outbox.published
    assert (
        "Group exemptions (keys kept by group membership, with their age):\n"
        "  EXEMPT 111111111111 alice AKIAAAAAAAAAAAAAAAA1, age 130, (ExemptGroup)\n"
        "  EXEMPT 111111111111 alice AKIAAAAAAAAAAAAAAAA2, age 10, (ExemptGroup)\n"
        "  EXEMPT 111111111111 bob AKIABBBBBBBBBBBBBBB1, age 5, (ExemptGroup)\n"
    ) in message


def test_an_exempt_group_that_does_not_exist_is_a_note_not_a_failure() -> None:
    clients = world(alice=[FakeKey("AKIAAAAAAAAAAAAAAAA1", days_ago(130))])
    clients.accounts[CALLER].tags = {"alice": {"email": "alice@example.com"}}
    settings = replace(SETTINGS, exempt_groups=("brake-glass",), sns_topic_arn="arn:t")
    run = enforce(clients, settings, NOW)
    assert actions(run) == {"AKIAAAAAAAAAAAAAAAA1": ("REMIND", True)}  # judged as usual
    note = (
        "EXEMPT_GROUP_MISSING: group brake-glass does not exist in this account; "
        "no one is exempt by it"
    )
    assert run.to_output()["Accounts"] == [{"AccountId": CALLER, "Error": None, "Notes": [note]}]
    assert run.exit_code == 0
    ((_, message),) = clients.outbox.published
    assert f"  account {CALLER}: {note}" in message


def test_exempt_groups_that_cannot_be_read_fail_the_account_with_11_and_nothing_is_done() -> None:
    clients = world(alice=[FakeKey("AKIAAAAAAAAAAAAAAAA1", days_ago(400))])
    iam = clients.accounts[CALLER]
    iam.tags = {"alice": {STATE_TAG: "v1 AKIAAAAAAAAAAAAAAAA1/r2024-05-20/d2024-05-27"}}
    iam.groups = {"break-glass": []}
    iam.refuse["GetGroup"] = refused("GetGroup")
    run = enforce(clients, replace(SETTINGS, exempt_groups=("break-glass",)), NOW)
    assert run.items == [] and mutations(iam) == []
    (account,) = run.to_output()["Accounts"]
    assert account["Error"] == (
        "GetGroup: AccessDenied: no (exempt group break-glass): its members are unknown, "
        "so nothing was read or done in this account"
    )
    assert run.exit_code == 11


def test_the_owners_email_says_how_to_rotate_and_where_to_read_more_without_a_made_up_link() -> (
    None
):
    clients = world(alice=[FakeKey("AKIAAAAAAAAAAAAAAAA1", days_ago(130))])
    clients.accounts[CALLER].tags = {"alice": {"email": "alice@example.com"}}
    enforce(clients, SETTINGS, NOW)
    ((_, _, body),) = clients.outbox.mails
    assert "    aws iam rotate-my-key --profile <the profile that holds the key>\n" in body
    assert "aws iam rotate-my-key help" in body
    assert 'the section "rotate-my-key" of the awscli-rotate-key README' in body
    assert "http" not in body  # the project has no public URL to point to (setup.cfg: none)


OWNERLESS = 6000  # keys of owners without an address: their lines overflow SNS's limit


def test_a_cut_administrators_summary_announces_only_the_keys_whose_line_it_kept() -> None:
    users = {f"user{n:05d}": [FakeKey(f"AKIA{n:016d}", days_ago(130))] for n in range(OWNERLESS)}
    clients = world(**users)
    run = enforce(clients, replace(SETTINGS, sns_topic_arn="arn:t"), NOW)
    ((_, message),) = clients.outbox.published
    assert len(message.encode()) < SNS_LIMIT
    assert message.split("\n")[3] == "Owners without an address (announced here):"  # first
    listed = {i.key.access_key_id for i in run.items if f" {i.key.access_key_id}," in message}
    told = {i.key.access_key_id for i in run.items if i.applied}
    assert told == listed and 0 < len(told) < OWNERLESS
    cut = OWNERLESS - len(told)
    assert f"; {cut} key(s) not announced here: a later run announces them" in message
    tags = clients.accounts[CALLER].tags
    for item in run.items:
        tagged = STATE_TAG in tags.get(item.key.user_name, {})
        assert tagged == item.applied, item.key.access_key_id
        if not item.applied:
            assert item.notes == [
                "NO_OWNER_ADDRESS: no email tag on the user; for the administrators' summary",
                "NOT_ANNOUNCED: the administrators' summary was full; a later run announces it",
            ]
    assert run.exit_code == 0


def test_a_refused_administrators_summary_announces_nothing() -> None:
    clients = world(alice=[FakeKey("AKIAAAAAAAAAAAAAAAA1", days_ago(130))])
    clients.outbox.refuse_publish = refused("Publish", "AuthorizationError", "no")
    run = enforce(clients, replace(SETTINGS, sns_topic_arn="arn:aws:sns:us-east-1:1:t"), NOW)
    (item,) = run.to_output()["Actions"]
    assert (item["Action"], item["Applied"]) == ("REMIND", False)
    assert item["Reason"] == "the administrators' summary was not accepted (not reminded)"
    assert mutations(clients.accounts[CALLER]) == []  # no tag: the grace does not start
    assert run.problems == [
        "administrators' summary to arn:aws:sns:us-east-1:1:t: Publish: AuthorizationError: no"
    ]
    assert run.exit_code == 12


def test_excluded_accounts_are_listed_but_never_assumed_or_read() -> None:
    clients = world(alice=[FakeKey("AKIAAAAAAAAAAAAAAAA1", days_ago(400))])
    clients.accounts[MEMBER] = EnforceIam(MEMBER, {"bob": [FakeKey("AKIABBBBBBBBBBBBBBB1", NOW)]})
    clients.accounts["333333333333"] = EnforceIam("333333333333")
    settings = replace(
        SETTINGS, account_ids=(CALLER, MEMBER, "333333333333"), exclude_account_ids=(MEMBER,)
    )
    run = enforce(clients, settings, NOW)
    assert clients.accounts[MEMBER].calls == []
    assert clients.sts.assumed == ["arn:aws:iam::333333333333:role/OrganizationAccountAccessRole"]
    note = "EXCLUDED_ACCOUNT: excluded from enforcement (break-glass): not read, nothing done"
    assert run.to_output()["Accounts"] == [
        {"AccountId": CALLER, "Error": None, "Notes": []},
        {"AccountId": MEMBER, "Error": None, "Notes": [note]},
        {"AccountId": "333333333333", "Error": None, "Notes": []},
    ]
    assert run.exit_code == 0
    excluded_caller = enforce(clients, replace(settings, exclude_account_ids=(CALLER,)), NOW)
    assert excluded_caller.items == [] and excluded_caller.accounts[0].notes == [note]


def test_grace_days_0_reminds_first_and_a_later_run_disables() -> None:
    clients = world(alice=[FakeKey("AKIAAAAAAAAAAAAAAAA1", days_ago(130))])
    iam = clients.accounts[CALLER]
    iam.tags = {"alice": {"email": "alice@example.com"}}
    no_grace = replace(SETTINGS, grace_days=0)
    first = enforce(clients, no_grace, NOW)
    assert actions(first) == {"AKIAAAAAAAAAAAAAAAA1": ("REMIND", True)}
    assert first.to_output()["Actions"][0]["DisableDate"] == "2024-06-01"
    assert mutations(iam) == ["TagUser alice"]
    second = enforce(clients, no_grace, NOW + dt.timedelta(hours=1))
    assert actions(second) == {"AKIAAAAAAAAAAAAAAAA1": ("DISABLE", True)}
    assert [m[1] for m in clients.outbox.mails] == [
        "Your AWS access keys: time to rotate",
        "Your AWS access keys: a key was disabled",
    ]


def test_grace_days_0_never_disables_a_key_nobody_can_be_told_about() -> None:
    clients = world(alice=[FakeKey("AKIAAAAAAAAAAAAAAAA1", days_ago(400))])
    for _ in range(2):
        run = enforce(clients, replace(SETTINGS, grace_days=0), NOW)
        (item,) = run.to_output()["Actions"]
        assert (item["Action"], item["Reason"], item["Applied"]) == ("REMIND", "NoRecipient", False)
    assert mutations(clients.accounts[CALLER]) == []


def test_a_far_future_disable_date_is_reported_and_replaced_not_kept() -> None:
    clients = world(alice=[FakeKey("AKIAAAAAAAAAAAAAAAA1", days_ago(130))])
    iam = clients.accounts[CALLER]
    far = "v1 AKIAAAAAAAAAAAAAAAA1/r2024-05-30/d9999-12-31"
    iam.tags = {"alice": {"email": "alice@example.com", STATE_TAG: far}}
    run = enforce(clients, SETTINGS, NOW)
    (item,) = run.to_output()["Actions"]
    assert (item["Action"], item["DisableDate"], item["Applied"]) == ("REMIND", "2024-06-08", True)
    assert item["Notes"][0].startswith("STATE_TAG_IGNORED: key-rotation-state entry of ")
    assert iam.tags["alice"][STATE_TAG] == "v1 AKIAAAAAAAAAAAAAAAA1/r2024-06-01/d2024-06-08"


def test_a_reactivated_key_is_reminded_with_a_fresh_grace_then_disabled_again() -> None:
    clients = world(alice=[FakeKey("AKIAAAAAAAAAAAAAAAA1", days_ago(130))])
    iam = clients.accounts[CALLER]
    iam.tags = {"alice": {STATE_TAG: "v1 AKIAAAAAAAAAAAAAAAA1/r2024-05-20/d2024-05-27"}}
    enforce(clients, SETTINGS, NOW - dt.timedelta(days=1))
    assert iam.tags["alice"][STATE_TAG] == "v1 AKIAAAAAAAAAAAAAAAA1/x2024-05-31"
    iam.users["alice"][0].status = "Active"  # an administrator undoes the disable
    again = enforce(clients, replace(SETTINGS, sns_topic_arn="arn:t"), NOW)
    assert actions(again) == {"AKIAAAAAAAAAAAAAAAA1": ("REMIND", True)}
    assert again.to_output()["Actions"][0]["DisableDate"] == "2024-06-08"
    assert (
        iam.tags["alice"][STATE_TAG]
        == "v1 AKIAAAAAAAAAAAAAAAA1/r2024-06-01/d2024-06-08/x2024-05-31"
    )
    assert enforce(clients, SETTINGS, NOW + dt.timedelta(days=7)).items[0].decision.action == (
        "DISABLE"
    )


def test_the_state_tag_keeps_the_entry_of_a_listed_key_the_report_did_not_match() -> None:
    from awscli_rotate_key.admin.audit import Listing
    from awscli_rotate_key.admin.enforce_accounts import held_keys
    from awscli_rotate_key.admin.enforce_rules import KeyFacts
    from awscli_rotate_key.keys import AccessKey

    listed = Listing(
        (
            AccessKey("AKIAAAAAAAAAAAAAAAA1", "Active", NOW),
            AccessKey("AKIAAAAAAAAAAAAAAAA2", "Active", NOW),
        )
    )
    matched = [KeyFacts(CALLER, "alice", "AKIAAAAAAAAAAAAAAAA1", "Active", NOW)]
    unmatched = [KeyFacts(CALLER, "alice", None, "Active", NOW)]
    assert held_keys(listed, matched + unmatched) == (
        "AKIAAAAAAAAAAAAAAAA1",
        "AKIAAAAAAAAAAAAAAAA2",
    )
    assert held_keys(Listing(None, "denied"), matched) == ("AKIAAAAAAAAAAAAAAAA1",)
