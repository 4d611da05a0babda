"""``aws iam enforce-key-rotation`` end to end: the real ``aws`` (v1 and v2) against moto.

Each test has an account of its own (tests.support.audit_fixtures); SES has a verified sender
there and sent mail is read from moto's in-process backend. The clock of later runs is moved
with the test clock (AWSCLI_ROTATE_KEY_TEST_NOW, honoured only with a loopback endpoint URL).
Every run is given a clock: the world's ``now`` (fixed when it is made, a little ahead so that
keys made just after are still whole days old) unless the test moves it, so that no date the
test expects moves if UTC midnight passes during the test. Expected actions and dates are
written by hand.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from botocore.session import Session

from awscli_rotate_key.commands.enforce_run import TEST_NOW
from tests.support.audit_fixtures import Account, SessionKey
from tests.support.cli import CLI, AwsHome, Result
from tests.support.faultproxy import FaultProxy
from tests.support.moto import ADMIN_POLICY, MotoServer

pytestmark = pytest.mark.timeout(180)
SENDER = "keys@example.com"
STATE = "key-rotation-state"
MUTATING = {"UpdateAccessKey", "DeleteAccessKey", "TagUser", "UntagUser", "SendEmail", "Publish"}
AHEAD = dt.timedelta(minutes=5)  # more than any test takes to make its keys


class World:
    """An account with a verified sender, an admin session, and helpers to shape users."""

    def __init__(self, server: MotoServer, tmp_path: Path, url: str | None = None) -> None:
        self.server, self.account = server, Account(server)
        self.now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + AHEAD
        self.session = self.account.assume()
        self.client("ses").verify_email_identity(EmailAddress=SENDER)
        self.home = AwsHome(tmp_path / "home", url or server.url)
        self.home.add_profile("default", self.session, aws_session_token=self.session.session_token)

    def client(self, service: str, key: SessionKey | None = None) -> Any:
        key = key or self.session
        return Session().create_client(
            service,
            region_name="us-east-1",
            endpoint_url=self.server.url,
            aws_access_key_id=key.access_key_id,
            aws_secret_access_key=key.secret_access_key,
            aws_session_token=key.session_token,
        )

    def user(self, name: str, *ages: float, **tags: str) -> list[str]:
        self.account.user(name)
        if tags:
            self.tag(name, **tags)
        return [self.account.key(name, age) for age in ages]

    def tag(self, name: str, **tags: str) -> None:
        pairs = [{"Key": k.replace("_", "-"), "Value": v} for k, v in tags.items()]
        self.account.backend.tag_user(name, pairs)

    def tags(self, name: str) -> dict[str, str]:
        return {t["Key"]: t["Value"] for t in self.account.backend.list_user_tags(name)}

    def status(self, name: str) -> list[str]:
        return [k.status for k in self.account.backend.users[name].access_keys]

    def mail(self) -> list[Any]:
        from moto.ses.models import ses_backends

        return list(ses_backends[self.account.id]["us-east-1"].sent_messages)

    def day(self, offset: int) -> str:
        """The date ``offset`` days from the world's today (UTC)."""
        return (self.now.date() + dt.timedelta(days=offset)).isoformat()

    def announced(self, key_id: str, disable_offset: int, reminded_offset: int = -10) -> str:
        return f"v1 {key_id}/r{self.day(reminded_offset)}/d{self.day(disable_offset)}"

    def run(self, *args: str, now: str | None = None) -> Result:
        self.home.extra_env[TEST_NOW] = now or self.now.isoformat()
        return self.home.run("iam", "enforce-key-rotation", *args)


def actions(result: Result) -> dict[str, tuple[str, bool]]:
    return {a["AccessKeyId"]: (a["Action"], a["Applied"]) for a in result.json["Actions"]}


def row(result: Result, key_id: str) -> dict[str, Any]:
    return next(a for a in result.json["Actions"] if a["AccessKeyId"] == key_id)


@pytest.fixture
def world(moto_server: MotoServer, tmp_path: Path) -> World:
    return World(moto_server, tmp_path)


def test_a_dry_run_changes_and_sends_nothing(
    moto_server: MotoServer, proxy: FaultProxy, tmp_path: Path
) -> None:
    world = World(moto_server, tmp_path, proxy.url)
    (old,) = world.user("alice", 130, email="alice@example.com")
    (due,) = world.user("bob", 130, email="bob@example.com")
    world.tag("bob", **{STATE: world.announced(due, -1)})
    result = world.run("--sender", SENDER, "--delete-days", "1")
    assert result.returncode == 0, result.stderr
    assert result.json["DryRun"] is True
    assert actions(result) == {old: ("REMIND", False), due: ("DISABLE", False)}
    assert row(result, old)["DisableDate"] == world.day(7)
    assert row(result, old)["Recipient"] == "alice@example.com"
    assert "dry run: nothing was changed or sent" in result.stderr
    assert not MUTATING & set(proxy.actions()), proxy.actions()
    assert world.status("alice") == world.status("bob") == ["Active"]
    assert world.mail() == [] and STATE not in world.tags("alice")


def test_apply_disables_exactly_the_due_keys_and_only_the_old_key_of_a_two_key_user(
    world: World,
) -> None:
    old, new = world.user("two-keys", 130, 3, email="two@example.com")
    world.tag("two-keys", **{STATE: world.announced(old, 0)})
    (later,) = world.user("announced-later", 130, email="later@example.com")
    world.tag("announced-later", **{STATE: world.announced(later, 2, reminded_offset=-1)})
    world.user("fresh", 10, email="fresh@example.com")
    result = world.run("--sender", SENDER, "--apply")
    assert result.returncode == 0, result.stderr
    assert actions(result) == {old: ("DISABLE", True)}  # 'later' is between reminders
    assert world.status("two-keys") == ["Inactive", "Active"]
    assert world.status("announced-later") == world.status("fresh") == ["Active"]
    assert world.tags("two-keys")[STATE] == f"v1 {old}/x{world.day(0)}"
    (mail,) = world.mail()
    assert mail.destinations["ToAddresses"] == ["two@example.com"]
    assert f"key {old}, 130 days old: DISABLED" in mail.body and new not in mail.body


def test_a_never_reminded_key_is_reminded_first_then_disabled_on_its_date(world: World) -> None:
    (key,) = world.user("alice", 130, email="alice@example.com")
    first = world.run("--sender", SENDER, "--apply")
    assert first.returncode == 0, first.stderr
    assert actions(first) == {key: ("REMIND", True)}
    assert row(first, key)["DisableDate"] == world.day(7) and world.status("alice") == ["Active"]
    assert world.tags("alice")[STATE] == f"v1 {key}/r{world.day(0)}/d{world.day(7)}"
    (mail,) = world.mail()
    assert mail.destinations["ToAddresses"] == ["alice@example.com"]
    assert f"will be disabled on or after {world.day(7)} (UTC)" in mail.body
    assert "aws iam rotate-my-key --profile" in mail.body

    held = world.run("--sender", SENDER, "--apply", now=f"{world.day(3)}T12:00:00Z")
    assert held.returncode == 0, held.stderr
    assert held.json["Actions"] == [] and len(world.mail()) == 1  # --remind-every 7 holds
    assert f"clock set to {world.day(3)}T12:00:00+00:00" in held.stderr

    disabled = world.run("--sender", SENDER, "--apply", now=f"{world.day(7)}T00:00:01Z")
    assert disabled.returncode == 0, disabled.stderr
    assert actions(disabled) == {key: ("DISABLE", True)}
    assert world.status("alice") == ["Inactive"]
    assert "DISABLED by this run" in world.mail()[-1].body


def test_reminders_reach_owners_by_tag_one_email_per_address(world: World) -> None:
    (a,) = world.user("alice", 100, email="team@example.com")
    (b,) = world.user("alice-ci", 95, email="team@example.com")
    (c,) = world.user("no-tags", 100)
    result = world.run("--sender", SENDER, "--apply")
    assert result.returncode == 0, result.stderr
    assert actions(result) == {a: ("REMIND", True), b: ("REMIND", True), c: ("REMIND", False)}
    assert (row(result, c)["Reason"], row(result, c)["Recipient"]) == ("NoRecipient", None)
    (mail,) = world.mail()
    assert mail.destinations["ToAddresses"] == ["team@example.com"]
    assert f"key {a}, 100 days old" in mail.body and f"key {b}, 95 days old" in mail.body
    assert STATE not in world.tags("no-tags")


def test_exemptions_their_expiry_and_their_maximum(world: World) -> None:
    (valid,) = world.user("exempt", 130, key_rotation_exempt=world.day(30))
    (past,) = world.user("expired", 130, key_rotation_exempt=world.day(-1))
    (far,) = world.user("too-far", 130, key_rotation_exempt=world.day(181))
    (grouped,) = world.user("break-glass-user", 130)
    world.account.backend.create_group("break-glass")
    world.account.backend.add_user_to_group("break-glass", "break-glass-user")
    result = world.run("--exempt-group", "break-glass")
    assert result.returncode == 0, result.stderr
    assert actions(result) == {
        valid: ("EXEMPT", False),
        past: ("REMIND", False),
        far: ("REMIND", False),
        grouped: ("EXEMPT", False),
    }
    assert row(result, valid)["Reason"] == "ExemptTag"
    assert row(result, grouped)["Reason"] == "ExemptGroup"
    assert row(result, past)["Notes"][0].startswith("INVALID_EXEMPTION: key-rotation-exempt=")
    assert row(result, far)["Notes"][0].endswith(
        "is more than 180 days ahead (--max-exemption-days)"
    )


def test_group_exemptions_are_listed_in_every_run_with_their_age(
    moto_server: MotoServer, proxy: FaultProxy, tmp_path: Path
) -> None:
    world = World(moto_server, tmp_path, proxy.url)
    old, young = world.user("break-glass-user", 130, 10)
    (other,) = world.user("bob", 10)
    world.account.backend.create_group("break-glass")
    world.account.backend.add_user_to_group("break-glass", "break-glass-user")
    result = world.run("--exempt-group", "break-glass", "brake-glass")
    assert result.returncode == 0, result.stderr
    assert actions(result) == {old: ("EXEMPT", False), young: ("EXEMPT", False)}
    assert (row(result, young)["AgeDays"], row(result, young)["Reason"]) == (10, "ExemptGroup")
    assert row(result, young)["Notes"] == row(result, old)["Notes"] == ["EXEMPT_GROUP: break-glass"]
    assert result.json["Summary"]["EXEMPT"] == 2 and other not in actions(result)
    missing = (
        "EXEMPT_GROUP_MISSING: group brake-glass does not exist in this account; "
        "no one is exempt by it"
    )
    assert result.json["Accounts"] == [
        {"AccountId": world.account.id, "Error": None, "Notes": [missing]}
    ]
    assert f"enforce-key-rotation: account {world.account.id}: {missing}" in result.stderr
    called = proxy.actions()
    assert called.count("GetGroup") == 2 and "ListGroupsForUser" not in called


def keys_of(world: World, name: str) -> list[str]:
    return [k.access_key_id for k in world.account.backend.users[name].access_keys]


def test_delete_days_deletes_only_inactive_keys_past_it_from_the_tag_else_create_date(
    world: World,
) -> None:
    recorded_old, active = world.user("recorded", 400, 5)
    world.account.backend.users["recorded"].access_keys[0].status = "Inactive"
    world.tag("recorded", **{STATE: f"v1 {recorded_old}/x{world.day(-40)}"})
    (recently,) = world.user("recently-disabled", 400)  # old, but disabled 10 days ago
    world.account.backend.users["recently-disabled"].access_keys[0].status = "Inactive"
    world.tag("recently-disabled", **{STATE: f"v1 {recently}/x{world.day(-10)}"})
    untagged_old = world.account.key(world.account.user("untagged"), 40, status="Inactive")
    untagged_young = world.account.key("untagged", 20, status="Inactive")
    due = {recorded_old: "DELETE", untagged_old: "DELETE"}

    plan = world.run("--delete-days", "30")
    assert plan.returncode == 0, plan.stderr
    assert actions(plan) == {k: (a, False) for k, a in due.items()}
    assert row(plan, recorded_old)["AgeDays"] == 400 and row(plan, untagged_old)["AgeDays"] == 40
    assert keys_of(world, "recorded") == [recorded_old, active]
    assert keys_of(world, "untagged") == [untagged_old, untagged_young]

    applied = world.run("--delete-days", "30", "--apply")
    assert applied.returncode == 0, applied.stderr
    assert actions(applied) == {k: (a, True) for k, a in due.items()}
    assert keys_of(world, "recorded") == [active]  # only that key of a two-key user
    assert world.status("recorded") == ["Active"]
    assert keys_of(world, "recently-disabled") == [recently]
    assert keys_of(world, "untagged") == [untagged_young]
    assert recorded_old not in world.tags("recorded").get(STATE, "")  # its entry is dropped


def test_disable_unused_days_counts_a_never_used_key_from_create_date_and_announces_first(
    world: World,
) -> None:
    (idle,) = world.user("idle", 60, email="idle@example.com")  # never used
    world.account.user("busy")
    busy = world.account.key("busy", 60, used_days_ago=1)
    world.tag("busy", email="busy@example.com")
    (young,) = world.user("young", 20, email="young@example.com")  # never used, not 30 days
    args = ("--disable-unused-days", "30", "--sender", SENDER, "--apply")

    first = world.run(*args)
    assert first.returncode == 0, first.stderr
    assert actions(first) == {idle: ("REMIND", True)}  # the announcement, not yet the disable
    assert row(first, idle)["DisableDate"] == world.day(7)
    assert world.status("idle") == ["Active"]
    assert world.tags("idle")[STATE] == f"v1 {idle}/r{world.day(0)}/d{world.day(7)}"
    (mail,) = world.mail()
    assert mail.destinations["ToAddresses"] == ["idle@example.com"]
    assert f"will be disabled on or after {world.day(7)} (UTC)" in mail.body

    early = world.run(*args, now=f"{world.day(6)}T23:59:59Z")
    assert early.returncode == 0, early.stderr
    assert early.json["Actions"] == [] and world.status("idle") == ["Active"]

    disabled = world.run(*args, now=f"{world.day(7)}T00:00:01Z")
    assert disabled.returncode == 0, disabled.stderr
    assert actions(disabled) == {idle: ("DISABLE_UNUSED", True)}
    assert world.status("idle") == ["Inactive"]
    assert world.status("busy") == world.status("young") == ["Active"]
    assert busy not in actions(disabled) and young not in actions(disabled)
    assert "DISABLED by this run" in world.mail()[-1].body


def test_the_callers_own_key_is_never_disabled(world: World) -> None:
    world.account.user("operator")
    world.account.backend.put_user_policy(
        "operator", "admin", __import__("json").dumps(ADMIN_POLICY)
    )
    created = world.account.backend.create_access_key("operator")
    created.create_date = dt.datetime.utcnow() - dt.timedelta(days=200)
    key = SessionKey(created.access_key_id, created.secret_access_key, "")
    world.tag("operator", **{STATE: world.announced(key.access_key_id, -5)})
    world.home.add_profile("operator", key)
    result = world.run("--profile", "operator", "--apply")
    assert result.returncode == 0, result.stderr
    assert (row(result, key.access_key_id)["Action"], row(result, key.access_key_id)["Reason"]) == (
        "SKIPPED",
        "SigningKey",
    )
    assert world.status("operator") == ["Active"]


def test_ses_refusing_the_sender_exits_12_and_the_rest_is_done(world: World) -> None:
    (remind,) = world.user("alice", 130, email="alice@example.com")
    (due,) = world.user("bob", 130)
    world.tag("bob", **{STATE: world.announced(due, -1)})
    result = world.run("--sender", "unverified@example.com", "--apply")
    assert result.returncode == 12, result.stderr
    assert actions(result) == {remind: ("REMIND", False), due: ("DISABLE", True)}
    assert row(result, remind)["Reason"].startswith("SendEmail: MessageRejected")
    assert f"REMIND of {remind} (user alice, account {world.account.id}) failed" in result.stderr
    assert world.status("bob") == ["Inactive"]
    assert STATE not in world.tags("alice")  # the grace does not start


def test_a_corrupt_state_tag_is_ignored_reported_and_rewritten(world: World) -> None:
    (key,) = world.user("alice", 130, email="alice@example.com")
    world.tag("alice", **{STATE: '{"disable": "never"}'})
    result = world.run("--sender", SENDER, "--apply")
    assert result.returncode == 0, result.stderr
    assert actions(result) == {key: ("REMIND", True)}
    assert row(result, key)["Notes"][0].startswith("STATE_TAG_IGNORED: key-rotation-state")
    assert world.tags("alice")[STATE] == f"v1 {key}/r{world.day(0)}/d{world.day(7)}"


def test_table_text_and_query_output(world: World) -> None:
    (key,) = world.user("alice", 130)
    table = world.run("--output", "table")
    assert table.returncode == 0, table.stderr
    assert "enforce-key-rotation" in table.stdout and key in table.stdout
    text = world.run("--query", "Actions[].[UserName,AccessKeyId,Action]", "--output", "text")
    assert text.stdout.split() == ["alice", key, "REMIND"]


def seed_role_cache(world: World, role_arn: str) -> None:
    """Put the role's session into the CLI's assume-role cache, as a first AssumeRole would.

    AWS CLI v2 2.9.19 ignores AWS_ENDPOINT_URL for the STS call of an assume-role profile, so
    under v2 the role's credentials come from the cache (v1 makes the call, to moto): the keys
    the run protects come from the profiles either way.
    """
    import hashlib
    import json

    sts = world.server.client("sts", world.server.admin)
    response = sts.assume_role(RoleArn=role_arn, RoleSessionName="enforcer")
    c = response["Credentials"]
    cached = {
        "Credentials": {
            "AccessKeyId": c["AccessKeyId"],
            "SecretAccessKey": c["SecretAccessKey"],
            "SessionToken": c["SessionToken"],
            "Expiration": c["Expiration"].isoformat(),
        }
    }
    name = hashlib.sha1(json.dumps({"RoleArn": role_arn}, sort_keys=True).encode()).hexdigest()
    cache = world.home.root / ".aws" / "cli" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    (cache / f"{name}.json").write_text(json.dumps(cached))


@pytest.mark.parametrize("chain", ["source_profile", "credential_source = Environment"])
def test_the_static_key_behind_an_assume_role_profile_is_never_disabled(
    world: World, chain: str
) -> None:
    """The run signs with the role's session key; the static key that signs AssumeRole (a
    source_profile's, or the environment's) is an overdue key of a user of this account."""
    from tests.support.audit_fixtures import grant_admin

    world.account.user("operator")
    world.account.backend.put_user_policy(
        "operator", "admin", __import__("json").dumps(ADMIN_POLICY)
    )
    created = world.account.backend.create_access_key("operator")
    created.create_date = dt.datetime.utcnow() - dt.timedelta(days=200)
    key = SessionKey(created.access_key_id, created.secret_access_key, "")
    world.tag("operator", **{STATE: world.announced(key.access_key_id, -5)})
    grant_admin(world.account.id, "enforcer")
    role = f"role_arn = arn:aws:iam::{world.account.id}:role/enforcer\n"
    if chain == "source_profile":
        world.home.add_profile("operator", key)
        role += "source_profile = operator\n"
    else:
        world.home.extra_env.update(
            AWS_ACCESS_KEY_ID=key.access_key_id, AWS_SECRET_ACCESS_KEY=key.secret_access_key
        )
        role += "credential_source = Environment\n"
    world.home.config.write_text(world.home.config.read_text() + "[profile admin]\n" + role)
    if CLI.major == 2:  # 2.9.19 sends AssumeRole to AWS itself, whatever the endpoint URL
        seed_role_cache(world, f"arn:aws:iam::{world.account.id}:role/enforcer")
    result = world.run("--profile", "admin", "--apply")
    assert result.returncode == 0, result.stderr
    signing = row(result, key.access_key_id)
    assert (signing["Action"], signing["Reason"]) == ("SKIPPED", "SigningKey")
    assert world.status("operator") == ["Active"]


def test_grace_days_0_reminds_first_and_never_disables_a_key_nobody_is_told_about(
    world: World,
) -> None:
    (told,) = world.user("alice", 130, email="alice@example.com")
    (nobody,) = world.user("bob", 130)  # no address, no administrators' channel
    args = ("--grace-days", "0", "--sender", SENDER, "--apply")
    first = world.run(*args)
    assert first.returncode == 0, first.stderr
    assert actions(first) == {told: ("REMIND", True), nobody: ("REMIND", False)}
    assert row(first, told)["DisableDate"] == world.day(0)
    assert row(first, nobody)["Reason"] == "NoRecipient"
    assert world.status("alice") == world.status("bob") == ["Active"]
    (mail,) = world.mail()
    assert f"will be disabled on or after {world.day(0)} (UTC)" in mail.body

    later = (world.now + dt.timedelta(hours=1)).isoformat()
    second = world.run(*args, now=later)
    assert second.returncode == 0, second.stderr
    assert actions(second) == {told: ("DISABLE", True), nobody: ("REMIND", False)}
    assert world.status("alice") == ["Inactive"] and world.status("bob") == ["Active"]


def test_a_far_future_disable_date_in_the_tag_is_ignored_and_reported(world: World) -> None:
    """A hand-written d of 9999-12-31 would exempt the key for ever."""
    (key,) = world.user("alice", 130, email="alice@example.com")
    world.tag("alice", **{STATE: f"v1 {key}/r{world.day(-1)}/d9999-12-31"})
    result = world.run("--sender", SENDER, "--apply")
    assert result.returncode == 0, result.stderr
    assert actions(result) == {key: ("REMIND", True)}
    assert row(result, key)["DisableDate"] == world.day(7)
    assert row(result, key)["Notes"][0].startswith(
        f"STATE_TAG_IGNORED: key-rotation-state entry of {key}: DisableDate 9999-12-31 is later"
    )
    assert world.tags("alice")[STATE] == f"v1 {key}/r{world.day(0)}/d{world.day(7)}"


def test_a_wrongly_disabled_key_reactivated_gets_a_final_reminder_with_a_fresh_grace(
    world: World,
) -> None:
    """README, "Undoing a wrong disable": the disable left only x in the tag."""
    (key,) = world.user("alice", 130, email="alice@example.com")
    world.tag("alice", **{STATE: world.announced(key, -1)})
    disabled = world.run("--sender", SENDER, "--apply")
    assert actions(disabled) == {key: ("DISABLE", True)}
    assert world.tags("alice")[STATE] == f"v1 {key}/x{world.day(0)}"
    world.client("iam").update_access_key(UserName="alice", AccessKeyId=key, Status="Active")

    tomorrow = (world.now + dt.timedelta(days=1)).isoformat()
    again = world.run("--sender", SENDER, "--apply", now=tomorrow)
    assert again.returncode == 0, again.stderr
    assert actions(again) == {key: ("REMIND", True)}
    assert row(again, key)["DisableDate"] == world.day(8)
    assert world.status("alice") == ["Active"]
    assert world.tags("alice")[STATE] == f"v1 {key}/r{world.day(1)}/d{world.day(8)}/x{world.day(0)}"
    assert f"will be disabled on or after {world.day(8)} (UTC)" in world.mail()[-1].body
