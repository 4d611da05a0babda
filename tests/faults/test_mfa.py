"""MFA-protected users, end to end: the real ``aws`` through the proxy's play of STS and the
MFA self-service policy (tests/support/mfaplay.py) in front of moto.

The user has AWS's "manage their own credentials" policy for MFA users: without an MFA session
only GetUser (and GetCallerIdentity, GetSessionToken) work. moto holds the adapted copy
(Resource "*", the Deny played by the proxy). Every run here is without a terminal on stdin.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.cli import AwsHome, Result
from tests.support.faultproxy import FaultProxy
from tests.support.mfaplay import MFA_SELF_SERVICE_POLICY, MfaPlay, adapted_for_moto
from tests.support.moto import Key, MotoServer

CODE, NEXT_CODE = "123456", "654321"
KEY_ACTIONS = ("ListAccessKeys", "CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey")
MUTATING = ("CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey")


@dataclass
class MfaWorld:
    moto: MotoServer
    proxy: FaultProxy
    home: AwsHome
    play: MfaPlay
    user: str
    old: Key
    serial: str

    def rotate(self, *args: str) -> Result:
        return self.home.run("iam", "rotate-my-key", "--profile", "alice", *args)

    def files(self) -> dict[str, bytes]:
        aws = self.home.root / ".aws"
        return {p.name: p.read_bytes() for p in aws.iterdir() if p.is_file()}

    def actions(self, names: tuple[str, ...]) -> list[tuple[str | None, str | None]]:
        return [(c.action, c.key_id) for c in self.proxy.calls if c.action in names]

    def get_session_tokens(self) -> list[str | None]:
        return [c.key_id for c in self.proxy.calls if c.action == "GetSessionToken"]

    def assert_nothing_changed(self, files_before: dict[str, bytes]) -> None:
        assert self.actions(MUTATING) == []
        assert self.proxy.probes() == []
        assert self.moto.keys(self.user) == {self.old.access_key_id: "Active"}
        assert self.files() == files_before


def make_world(
    moto_server: MotoServer, proxy: FaultProxy, home: AwsHome, kills: bool = True
) -> MfaWorld:
    user = moto_server.make_user(policy=adapted_for_moto(MFA_SELF_SERVICE_POLICY))
    old = moto_server.make_key(user, age_days=120)
    serial = f"arn:aws:iam::123456789012:mfa/{user}"
    play = proxy.play_mfa(MfaPlay(parent_key_kills_sessions=kills))
    play.protect(user)
    play.add_device(user, serial)
    play.allow_codes(serial, CODE, NEXT_CODE)
    home.add_profile("alice", old)
    with home.config.open("a") as config:  # the device lives in the config file, as usual
        config.write(f"[profile alice]\nmfa_serial = {serial}\n")
    return MfaWorld(moto_server, proxy, home, play, user, old, serial)


@pytest.fixture
def mfa(moto_server, proxy, proxied_home) -> MfaWorld:  # type: ignore[no-untyped-def]
    return make_world(moto_server, proxy, proxied_home)


def assert_never_on_disk(world: MfaWorld, secrets: list[str]) -> None:
    """No file under the throwaway HOME (config, credentials, journal, CLI cache) holds them."""
    for path in Path(world.home.root).rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            leaked = [s[:8] for s in secrets if s.encode() in data]
            assert leaked == [], (path, leaked)


@pytest.mark.parametrize("kills", [True, False], ids=["sessions-die-with-parent", "live-on"])
def test_a_full_rotation_with_token_code(moto_server, proxy, proxied_home, kills) -> None:  # type: ignore[no-untyped-def]
    world = make_world(moto_server, proxy, proxied_home, kills=kills)

    result = world.rotate("--token-code", CODE)

    assert result.returncode == 0, result.stderr
    out = result.json
    new_id = out["NewAccessKeyId"]
    assert out["Rotated"] is True and out["OldKeyStatus"] == "Deleted"
    assert world.moto.keys(world.user) == {new_id: "Active"}
    assert world.home.profile_key("alice")[0] == new_id
    # One code, one GetSessionToken, signed by the old key.
    assert world.get_session_tokens() == [world.old.access_key_id]
    (session_id,) = world.play.session_ids()
    session = world.play.sessions[session_id]
    # Every key action went through the MFA session; none signed by a long-term key.
    signers = {key_id for _, key_id in world.actions(KEY_ACTIONS)}
    assert signers == {session_id}, world.actions(KEY_ACTIONS)
    assert world.play.denied == []
    # The new key was proven by IAM calls it signed (GetUser works without MFA), two in a row.
    proofs = [c for c in world.proxy.calls if c.key_id == new_id]
    assert [c.action for c in proofs][-2:] == ["GetUser", "GetUser"]
    assert [c.status for c in proofs][-2:] == [200, 200]
    # The old key was retired through the session (the MFA invariant, README).
    retired = [(a, k) for a, k in world.actions(("UpdateAccessKey", "DeleteAccessKey"))]
    assert ("DeleteAccessKey", session_id) in retired
    assert_never_on_disk(world, [session_id, session.secret, session.token])


def test_without_a_terminal_or_token_code_it_refuses_before_any_change(mfa: MfaWorld) -> None:
    before = mfa.files()

    result = mfa.rotate()

    assert result.returncode == 3, result.stderr
    assert "--token-code" in result.stderr and "nothing was changed" in result.stderr
    assert result.stderr.startswith("rotate-my-key: ") and result.stderr.count("\n") == 1
    assert mfa.get_session_tokens() == []
    mfa.assert_nothing_changed(before)


def test_a_wrong_code_is_refused_and_changes_nothing(mfa: MfaWorld) -> None:
    before = mfa.files()

    result = mfa.rotate("--token-code", "000000")

    assert result.returncode == 3, result.stderr
    assert "MFA code" in result.stderr and "refused" in result.stderr
    assert "wait for the next code and run again" in result.stderr
    assert mfa.get_session_tokens() == [mfa.old.access_key_id]
    mfa.assert_nothing_changed(before)


def test_a_reused_code_is_refused_and_changes_nothing(mfa: MfaWorld) -> None:
    sts = mfa.moto.client("sts", mfa.old, endpoint_url=mfa.proxy.url)
    sts.get_session_token(SerialNumber=mfa.serial, TokenCode=CODE)  # another tool used it
    mfa.proxy.reset_log()
    before = mfa.files()

    result = mfa.rotate("--token-code", CODE)

    assert result.returncode == 3, result.stderr
    assert "refused" in result.stderr and "nothing was changed" in result.stderr
    assert mfa.get_session_tokens() == [mfa.old.access_key_id]
    mfa.assert_nothing_changed(before)


def test_a_key_not_due_still_needs_the_code_and_changes_nothing(mfa: MfaWorld) -> None:
    before = mfa.files()

    refused = mfa.rotate("--older-than", "365")
    assert refused.returncode == 3 and "--token-code" in refused.stderr, refused.stderr
    result = mfa.rotate("--older-than", "365", "--token-code", CODE)

    assert result.returncode == 0, result.stderr
    assert result.json["Reason"] == "NotDue"
    assert mfa.get_session_tokens() == [mfa.old.access_key_id]  # one, in the run that had a code
    assert {k for _, k in mfa.actions(("ListAccessKeys",))} <= mfa.play.session_ids()
    mfa.assert_nothing_changed(before)


def test_a_dry_run_needs_the_code_too_and_changes_nothing(mfa: MfaWorld) -> None:
    before = mfa.files()

    assert mfa.rotate("--dry-run").returncode == 3
    result = mfa.rotate("--dry-run", "--token-code", CODE)

    assert result.returncode == 0, result.stderr
    plan = result.json
    assert plan["DryRun"] is True and plan["AccessKeyId"] == mfa.old.access_key_id
    assert plan["RetirementRights"] == {"UpdateAccessKey": "Allowed", "DeleteAccessKey": "Allowed"}
    assert len(mfa.get_session_tokens()) == 1
    assert mfa.actions(MUTATING) == []
    assert mfa.moto.keys(mfa.user) == {mfa.old.access_key_id: "Active"}
    assert mfa.files() == before


def test_the_device_from_mfa_serial_wins_over_the_profile(mfa: MfaWorld) -> None:
    other = "arn:aws:iam::123456789012:mfa/not-alices"
    before = mfa.files()

    result = mfa.rotate("--mfa-serial", other, "--token-code", CODE)

    assert result.returncode == 3, result.stderr
    assert other in result.stderr and "refused" in result.stderr
    mfa.assert_nothing_changed(before)
    # The code was not spent on the wrong device: it still works with the right one.
    assert mfa.rotate("--token-code", CODE).returncode == 0


def test_without_any_device_the_policy_denies_and_nothing_changes(mfa: MfaWorld) -> None:
    mfa.home.config.write_text(mfa.home.config.read_text().replace("mfa_serial", "#mfa_serial"))
    before = mfa.files()

    result = mfa.rotate()

    assert result.returncode != 0
    assert "AccessDenied" in result.stderr, result.stderr
    assert mfa.get_session_tokens() == []
    mfa.assert_nothing_changed(before)
    assert mfa.play.denied  # the proxy's Deny, not moto, answered


@pytest.mark.parametrize("kills", [True, False], ids=["sessions-die-with-parent", "live-on"])
def test_no_delete_leaves_the_old_key_inactive_through_the_session(  # type: ignore[no-untyped-def]
    moto_server, proxy, proxied_home, kills
) -> None:
    world = make_world(moto_server, proxy, proxied_home, kills=kills)

    result = world.rotate("--token-code", CODE, "--no-delete")

    assert result.returncode == 0, result.stderr
    out = result.json
    assert out["OldKeyStatus"] == "Inactive"
    assert world.moto.keys(world.user) == {
        world.old.access_key_id: "Inactive",
        out["NewAccessKeyId"]: "Active",
    }
    (session_id,) = world.play.session_ids()
    assert world.actions(("UpdateAccessKey",)) == [("UpdateAccessKey", session_id)]
    assert world.get_session_tokens() == [world.old.access_key_id]


def test_token_code_without_any_device_is_refused(mfa: MfaWorld) -> None:
    mfa.home.config.write_text(mfa.home.config.read_text().replace("mfa_serial", "#mfa_serial"))
    before = mfa.files()

    result = mfa.rotate("--token-code", CODE)

    assert result.returncode == 3, result.stderr
    assert "--token-code" in result.stderr and "no MFA device" in result.stderr
    assert mfa.proxy.calls == []
    mfa.assert_nothing_changed(before)


def test_debug_output_shows_neither_the_session_secret_nor_its_token(mfa: MfaWorld) -> None:
    result = mfa.rotate("--token-code", CODE, "--debug")

    assert result.returncode == 0, result.stderr[-2000:]
    (session_id,) = mfa.play.session_ids()
    session = mfa.play.sessions[session_id]
    assert session_id in result.stderr  # the log is there, its secrets are not
    assert session.secret not in result.stderr
    assert session.token not in result.stderr


def test_a_crash_mid_rotation_is_finished_by_a_run_with_a_new_code(mfa: MfaWorld) -> None:
    known = {mfa.old.access_key_id, mfa.moto.admin.access_key_id}
    refuse_new = mfa.proxy.reject_keys(lambda k: k.startswith("AKIA") and k not in known)
    proc = mfa.home.spawn("iam", "rotate-my-key", "--profile", "alice", "--token-code", CODE)
    deadline = time.monotonic() + 60
    while refuse_new.hits == 0 and time.monotonic() < deadline:  # the new key is saved, proving
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    mfa.proxy.remove(refuse_new)
    new_id = mfa.home.profile_key("alice")[0]
    assert new_id != mfa.old.access_key_id and refuse_new.hits > 0

    without = mfa.rotate()  # the session died with the process: a new code is needed
    assert without.returncode == 3 and "--token-code" in without.stderr, without.stderr
    assert mfa.moto.keys(mfa.user) == {mfa.old.access_key_id: "Active", new_id: "Active"}
    assert mfa.home.profile_key("alice")[0] == new_id

    finished = mfa.rotate("--token-code", NEXT_CODE)
    assert finished.returncode == 0, finished.stderr
    assert mfa.moto.keys(mfa.user) == {new_id: "Active"}
    assert len(mfa.get_session_tokens()) == 2  # one per run that had a code
