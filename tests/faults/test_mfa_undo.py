"""``--undo`` for an MFA-protected user, and the CLI history of an MFA run, end to end.

The real ``aws`` through the proxy's play of STS and the MFA self-service policy
(tests/support/mfaplay.py): without an MFA session only GetUser works, so the undo's
key-managing calls go through the session of the key the files hold, the new key. That key is
the session's parent and the key the undo deletes: its deletion is the session's last call,
under both answers the proxy models (the session dies with its parent key, or lives on).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import threading

import pytest

from tests.faults.test_mfa import CODE, KEY_ACTIONS, NEXT_CODE, MfaWorld, make_world
from tests.faults.test_mfa import mfa as mfa  # the fixture
from tests.support.cli import Result
from tests.support.mfaplay import moto_keys

THIRD_CODE = "777777"
UNDO = ("iam", "rotate-my-key", "--profile", "alice", "--undo")
KILLS = pytest.mark.parametrize("kills", [True, False], ids=["sessions-die-with-parent", "live-on"])


def rotated_keeping_the_old_key(world: MfaWorld) -> str:
    """An MFA --no-delete rotation; the proxy's log starts afresh after it."""
    result = world.rotate("--token-code", CODE, "--no-delete")
    assert result.returncode == 0, result.stderr
    new_id: str = result.json["NewAccessKeyId"]
    assert world.moto.keys(world.user) == {world.old.access_key_id: "Inactive", new_id: "Active"}
    world.proxy.reset_log()
    return new_id


def session_of(world: MfaWorld, key_id: str) -> str:
    """The session of ``key_id`` that signed calls since the log was last reset."""
    signers = {c.key_id for c in world.proxy.calls}
    sessions = world.play.sessions.items()
    (found,) = [s for s, v in sessions if v.parent_key_id == key_id and s in signers]
    return found


def assert_undone(world: MfaWorld, result: Result, new_id: str) -> None:
    assert result.returncode == 0, result.stderr
    assert result.json["Undone"] is True
    assert result.json["RestoredAccessKeyId"] == world.old.access_key_id
    assert world.moto.keys(world.user) == {world.old.access_key_id: "Active"}
    assert world.home.profile_key("alice")[0] == world.old.access_key_id
    assert world.play.denied == []
    left = [p.name for p in (world.home.root / ".aws").iterdir() if p.name.startswith("rotate")]
    assert left == [], left


@KILLS
def test_undo_goes_through_the_new_keys_session_and_deletes_that_key_last(  # type: ignore[no-untyped-def]
    moto_server, proxy, proxied_home, kills
) -> None:
    world = make_world(moto_server, proxy, proxied_home, kills=kills)
    old_id = world.old.access_key_id
    new_id = rotated_keeping_the_old_key(world)

    result = world.rotate("--undo", "--token-code", NEXT_CODE)

    assert_undone(world, result, new_id)
    assert world.get_session_tokens() == [new_id]  # one code, signed by the key the files hold
    session = session_of(world, new_id)
    actions = world.actions(KEY_ACTIONS)
    assert {k for _, k in actions} == {session}, actions
    assert actions[-1] == ("DeleteAccessKey", session)  # the session's last call
    calls = [(c.action, c.key_id) for c in world.proxy.calls]
    reactivated = calls.index(("UpdateAccessKey", session))
    # Proven by GetUser signed by the old key, before the files move and the new key goes.
    assert calls[reactivated + 1 : reactivated + 3] == [("GetUser", old_id)] * 2
    assert calls[-1] == ("DeleteAccessKey", session)


def test_the_undo_dry_run_under_mfa_shows_the_rights_allowed(mfa: MfaWorld) -> None:
    new_id = rotated_keeping_the_old_key(mfa)
    before = mfa.files()

    result = mfa.rotate("--undo", "--dry-run", "--token-code", NEXT_CODE)

    assert result.returncode == 0, result.stderr
    plan = result.json
    assert plan["RetirementRights"] == {"UpdateAccessKey": "Allowed", "DeleteAccessKey": "Allowed"}
    assert mfa.get_session_tokens() == [new_id]
    assert mfa.play.denied == []
    assert mfa.actions(("CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey")) == []
    assert mfa.files() == before


def test_undo_without_a_code_and_no_terminal_refuses_and_changes_nothing(mfa: MfaWorld) -> None:
    new_id = rotated_keeping_the_old_key(mfa)
    before = mfa.files()

    for dry_run in ((), ("--dry-run",)):
        result = mfa.rotate("--undo", *dry_run)
        assert result.returncode == 3, result.stderr
        assert "--token-code" in result.stderr and "nothing was changed" in result.stderr
        assert result.stderr.startswith("rotate-my-key: ") and result.stderr.count("\n") == 1

    assert mfa.proxy.calls == [] and mfa.proxy.probes() == []
    assert mfa.moto.keys(mfa.user) == {mfa.old.access_key_id: "Inactive", new_id: "Active"}
    assert mfa.files() == before


@KILLS
@pytest.mark.parametrize("killed_at", ["proving", "files restored"])
def test_a_killed_mfa_undo_is_finished_by_the_next_undo_with_a_new_code(  # type: ignore[no-untyped-def]
    moto_server, proxy, proxied_home, kills, killed_at
) -> None:
    world = make_world(moto_server, proxy, proxied_home, kills=kills)
    world.play.allow_codes(world.serial, THIRD_CODE)
    old_id = world.old.access_key_id
    new_id = rotated_keeping_the_old_key(world)
    action = "GetUser" if killed_at == "proving" else "DeleteAccessKey"

    assert kill_undo_at(world, action) == -signal.SIGKILL
    assert world.moto.keys(world.user) == {old_id: "Active", new_id: "Active"}
    holder = old_id if killed_at == "files restored" else new_id
    assert world.home.profile_key("alice")[0] == holder
    world.proxy.reset_log()

    without = world.rotate("--undo")  # the session died with the process: a new code
    assert without.returncode == 3 and "--token-code" in without.stderr, without.stderr
    result = world.rotate("--undo", "--token-code", THIRD_CODE)

    assert_undone(world, result, new_id)
    assert world.get_session_tokens() == [holder]  # the key the files held at the start
    session = session_of(world, holder)
    actions = world.actions(KEY_ACTIONS)
    assert {k for _, k in actions} == {session}, actions
    assert actions[-1] == ("DeleteAccessKey", session)


def kill_undo_at(world: MfaWorld, action: str) -> int:
    """Run an MFA ``--undo`` and SIGKILL it when ``action`` reaches the proxy, which drops it
    (IAM never sees it)."""
    procs: list[subprocess.Popen[str]] = []
    fired = threading.Event()

    def kill(_: object) -> None:
        if not fired.is_set():
            fired.set()
            os.kill(procs[0].pid, signal.SIGKILL)

    rule, drop = world.proxy.on(action, kill), world.proxy.drop(action)
    procs.append(world.home.spawn(*UNDO, "--token-code", NEXT_CODE))
    _, err = procs[0].communicate(timeout=90)
    world.proxy.remove(rule)
    world.proxy.remove(drop)
    assert fired.is_set(), f"the kill never fired: {world.proxy.actions()} {err}"
    return procs[0].returncode


def history_payloads(world: MfaWorld) -> str:
    db = world.home.root / ".aws" / "cli" / "history" / "history.db"
    assert db.exists(), "cli_history recorded nothing: the test would prove nothing"
    rows = sqlite3.connect(db).execute("SELECT payload FROM records").fetchall()
    assert rows
    return "\n".join(str(p) for (p,) in rows)


@pytest.mark.parametrize("undo", [False, True], ids=["rotation", "undo"])
def test_an_mfa_run_writes_neither_the_session_token_nor_a_secret_to_the_cli_history(
    mfa: MfaWorld, undo: bool
) -> None:
    with mfa.home.config.open("a") as config:
        config.write("cli_history = enabled\n")  # into [profile alice], the last section
    assert mfa.home.run("configure", "get", "cli_history", "--profile", "alice").stdout.strip() == (
        "enabled"
    )
    secrets = [mfa.old.secret_access_key]
    if undo:
        rotated_keeping_the_old_key(mfa)
        secrets.append(mfa.home.profile_key("alice")[1] or "?")  # the new key's, undone
        result = mfa.rotate("--undo", "--token-code", NEXT_CODE)
    else:
        result = mfa.rotate("--token-code", CODE)

    assert result.returncode == 0, result.stderr
    payloads = history_payloads(mfa)
    assert "GetSessionToken" in payloads or "rotate-my-key" in payloads  # the run was recorded
    secrets += [k.secret for k in moto_keys(mfa.user)]
    for session in mfa.play.sessions.values():
        secrets += [session.token, session.secret]
    assert len(secrets) >= 4
    leaked = [s[:8] for s in secrets if s in payloads]
    assert leaked == []


def test_a_plain_run_finishes_a_killed_mfa_undo_then_stops_for_a_second_code(  # type: ignore[no-untyped-def]
    moto_server, proxy, proxied_home
) -> None:
    world = make_world(moto_server, proxy, proxied_home)
    world.play.allow_codes(world.serial, THIRD_CODE)
    old_id = world.old.access_key_id
    new_id = rotated_keeping_the_old_key(world)
    assert kill_undo_at(world, "GetUser") == -signal.SIGKILL
    world.proxy.reset_log()

    result = world.rotate("--token-code", THIRD_CODE)

    # The undo is finished through the new key's session; the rotation asked for would need a
    # session of the restored key, a second code in one run: it stops, and the next run does it.
    assert result.returncode == 3, result.stderr
    assert "interrupted --undo" in result.stderr and "second code" in result.stderr
    assert "finished the interrupted --undo of profile 'alice'" in result.stderr
    assert "again with a new code" in result.stderr
    assert world.moto.keys(world.user) == {old_id: "Active"}
    assert world.home.profile_key("alice")[0] == old_id
    assert world.get_session_tokens() == [new_id]
    assert world.actions(KEY_ACTIONS)[-1] == ("DeleteAccessKey", session_of(world, new_id))
    left = [p.name for p in (world.home.root / ".aws").iterdir() if p.name.startswith("rotate")]
    assert left == [], left
