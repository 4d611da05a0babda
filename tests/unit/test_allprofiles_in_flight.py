"""--all-profiles: one journal per config directory, Ctrl-C, MFA devices.

A rotation left in flight (exit 5: its restart command failed) is recovered once, first, as
its own entry; while it stays in flight no other key starts (exit 3, "not attempted"). Ctrl-C
inside a rotation stops the run and keeps the entries done. Any profile holding a key, or a
role profile on it, names its MFA device.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from awscli_rotate_key.errors import Refused
from awscli_rotate_key.rotate.allprofiles import RunInterrupted, rotate_all_profiles
from awscli_rotate_key.rotate.allprofiles_keys import KeyHolders, MfaCodes, MfaRun, keys_in_files
from awscli_rotate_key.rotate.journal import JournalRecord
from awscli_rotate_key.rotate.profiles import Credentials
from awscli_rotate_key.rotate.restart import Restart
from awscli_rotate_key.rotate.rotation import Options
from awscli_rotate_key.rotate.sequence import rotate_my_key
from tests.unit.test_allprofiles import World, run_mfa
from tests.unit.test_allprofiles import world as world

DEV1, DEV2 = "arn:aws:iam::123456789012:mfa/one", "arn:aws:iam::123456789012:mfa/two"
ROLE = "arn:aws:iam::123456789012:role/admin"


class FailingFor:
    """The restart command: fails for the new keys of the users in ``failing``."""

    def __init__(self, world: World, *failing: str) -> None:
        self.world, self.failing = world, set(failing)
        self.runs: list[str] = []  # the user whose new key it ran with

    def __call__(self, restart: Restart, new: Credentials) -> str | None:
        user = self.world.iam.keys[new.access_key_id].user
        self.runs.append(user)
        return "exited with status 3" if user in self.failing else None


def run_with(world: World, restart: FailingFor, **options: Any) -> Any:
    steps = world.steps()
    steps.restart = restart
    opts = Options(wait_timeout=30.0, restart_command="systemctl restart app", **options)
    return rotate_all_profiles(steps, opts, rotate_my_key, False)


def three_users(world: World) -> dict[str, Credentials]:
    keys = {}
    for user in ("bob", "alice", "carol"):  # alice's rotation is the one left in flight
        world.iam.add_user(user)
        keys[user] = world.iam.add_key(user)
        world.add(user, keys[user])
    return keys


def test_a_rotation_left_in_flight_stops_the_later_keys_and_is_recovered_first(
    world: World,
) -> None:
    keys = three_users(world)
    restart = FailingFor(world, "alice")

    first = run_with(world, restart)

    bob, alice, carol = first.results
    assert (bob["ExitCode"], alice["ExitCode"], carol["ExitCode"]) == (0, 5, 3)
    assert "the restart command (--restart-command) exited with status 3" in alice["Error"]
    assert carol["Error"].startswith("not attempted: the rotation of profile 'alice' is still")
    assert carol["AccessKeyId"] == keys["carol"].access_key_id and carol["Profiles"] == ["carol"]
    assert world.files.credentials_of("carol") == keys["carol"]  # never touched
    assert [k.key_id for k in world.iam.keys_of("carol")] == [keys["carol"].access_key_id]
    assert restart.runs == ["bob", "alice"] and first.exit_code == 5
    assert world.reporter.warnings[-1] == f"profile 'carol': {carol['Error']}"

    second = run_with(world, restart)  # still failing: alice's command runs once, first

    alice, bob, carol = second.results
    assert alice["Profiles"] == ["alice"] and alice["ExitCode"] == 5
    assert alice["AccessKeyId"] == world.files.credentials_of("alice").access_key_id
    assert [bob["ExitCode"], carol["ExitCode"]] == [3, 3]
    assert "profile 'alice'" in bob["Error"] and "alice" not in alice["Error"].split(";")[0]
    assert restart.runs == ["bob", "alice", "alice"] and second.exit_code == 5
    assert len(world.iam.created) == 2  # nothing new was made for anyone

    restart.failing.clear()
    third = run_with(world, restart)

    alice, bob, carol = third.results
    assert alice["ExitCode"] == 0 and alice["Recovered"]["Action"] == "Completed"
    assert alice["OldAccessKeyId"] == keys["alice"].access_key_id
    assert [bob["ExitCode"], carol["ExitCode"]] == [0, 0] and third.exit_code == 0
    assert bob["Rotated"] and carol["Rotated"]
    assert restart.runs[3:] == ["alice", "bob", "carol"]  # alice's key is not rotated again
    assert world.iam.status(keys["alice"].access_key_id) == "Deleted"


def test_a_recovery_that_rolls_back_leaves_the_key_to_its_own_rotation(world: World) -> None:
    keys = three_users(world)
    steps = world.steps()  # a run killed before it saved alice's new key:
    steps.journal.save(
        JournalRecord(
            "alice", "alice", keys["alice"].access_key_id, [keys["alice"].access_key_id], True,
            files=list(world.files.paths()),
        )
    )  # fmt: skip
    steps.journal.save_rollback(keys["alice"])
    unsaved = world.iam.add_key("alice").access_key_id  # its new key, never saved

    result = run_with(world, FailingFor(world))

    recovered, bob, alice, carol = result.results
    assert recovered["Recovered"]["Action"] == "RolledBack" and recovered["ExitCode"] == 0
    assert recovered["Recovered"]["DeletedAccessKeyIds"] == [unsaved]
    assert recovered["Profiles"] == ["alice"]
    assert [bob["ExitCode"], alice["ExitCode"], carol["ExitCode"]] == [0, 0, 0]
    assert alice["Rotated"] and alice["OldAccessKeyId"] == keys["alice"].access_key_id


def test_ctrl_c_inside_a_rotation_stops_the_run_and_keeps_the_entries_done(world: World) -> None:
    keys = three_users(world)
    world.iam.new_key_rejections = 1  # each wait sleeps: Ctrl-C in alice's
    alices_new_key: list[str] = []

    def note_alices(call: Any) -> None:
        if call.signer == keys["alice"].access_key_id:
            alices_new_key.append(call.signer)

    def ctrl_c(index: int) -> None:
        if alices_new_key:
            raise KeyboardInterrupt  # inside the wait: the core undoes it, raises Interrupted

    world.iam.after["CreateAccessKey"] = note_alices
    world.clock.on_sleep = ctrl_c
    with pytest.raises(RunInterrupted) as stopped:
        run_with(world, FailingFor(world))

    bob, alice = stopped.value.done.results
    assert bob["ExitCode"] == 0 and bob["Rotated"] is True
    assert alice["ExitCode"] == 130 and alice["Profiles"] == ["alice"]
    assert alice["Error"].startswith("interrupted: the new key")
    assert world.files.credentials_of("alice") == keys["alice"]
    assert world.files.credentials_of("carol") == keys["carol"]
    assert [k.key_id for k in world.iam.keys_of("carol")] == [keys["carol"].access_key_id]
    assert stopped.value.exit_code == 130


def test_any_holder_or_role_profile_on_the_key_names_its_device(world: World) -> None:
    shared = Credentials("AKIASHAREDSHAREDSHAR", "s")
    bobs = Credentials("AKIABOBBOBBOBBOBBOB1", "b")
    carols = Credentials("AKIACAROLCAROLCAROL1", "c")
    world.add("shared", shared)
    world.add("shared-copy", shared, where="config", mfa_serial=DEV1)
    world.add("bob", bobs)
    roles = (  # admin2 -> admin -> bob: the roles' device is bob's user's
        f"[profile admin]\nrole_arn = {ROLE}\nsource_profile = bob\nmfa_serial = {DEV2}\n"
        f"[profile admin2]\nrole_arn = {ROLE}\nsource_profile = admin\n"
    )
    config = Path(world.files.config)
    config.write_text(config.read_text() + roles)
    world.add("carol", carols, mfa_serial=DEV1)
    world.add("carol-copy", carols, where="config", mfa_serial=DEV2)

    assert keys_in_files(world.files) == [
        KeyHolders(shared.access_key_id, ("shared", "shared-copy"), (DEV1,)),
        KeyHolders(bobs.access_key_id, ("bob",), (DEV2,), mfa_from_roles=True),
        KeyHolders(carols.access_key_id, ("carol", "carol-copy"), (DEV1, DEV2)),
    ]

    done, results = run_mfa(world, terminal=True)

    assert done == [("shared", (DEV1, True)), ("bob", (DEV2, False))]
    assert results["carol"]["ExitCode"] == 3
    assert "naming 2 MFA devices" in results["carol"]["Error"]
    assert "--profile carol --mfa-serial ARN" in results["carol"]["Error"]

    # Without a terminal and a code for it, a role's device is not the key's: bob goes
    # without MFA (his own policy decides); a holder's device still needs its code.
    done, results = run_mfa(world, terminal=False)  # the code is for DEV1 (the first device)
    assert ("shared", (DEV1, True)) in done and ("bob", None) in done
    done, results = run_mfa(world, terminal=False, has_code=False)
    assert ("bob", None) in done and results["shared"]["ExitCode"] == 3
    done, _ = run_mfa(world, terminal=False, serial=DEV2)  # a code for the role's device
    assert ("bob", (DEV2, True)) in done


def test_a_token_code_no_key_needs_is_refused_before_anything(world: World) -> None:
    world.add("plain", Credentials("AKIAPLAINPLAINPLAIN1", "p"))
    world.add("one", Credentials("AKIAONEONEONEONEONE1", "1"), mfa_serial=DEV1)

    with pytest.raises(Refused, match="no MFA device is known"):
        MfaRun.for_keys(MfaCodes(lambda d, c: None, None, True), False, keys_in_files_plain(world))
    with pytest.raises(Refused, match=r"--token-code is for .*two \(--mfa-serial\)"):
        run_mfa(world, terminal=False, serial=DEV2)
    done, _ = run_mfa(world, terminal=False)  # the code's device is needed: fine
    assert done == [("plain", None), ("one", (DEV1, True))]


def keys_in_files_plain(world: World) -> list[KeyHolders]:
    return [k for k in keys_in_files(world.files) if not k.mfa_serials]


def test_one_key_recovered_then_rotated_keeps_its_one_session(world: World) -> None:
    made: list[str] = []

    def sessions_for(device: str, with_code: bool) -> Any:
        made.append(device)
        return object()

    holders = KeyHolders("AKIAONEONEONEONEONE1", ("one",), (DEV1,))
    mfa = MfaRun.for_keys(MfaCodes(sessions_for, None, True), False, [holders])
    assert mfa.sessions(holders) is mfa.sessions(holders) and made == [DEV1]
    with pytest.raises(Refused, match="already used in this run"):
        mfa.sessions(dataclasses.replace(holders, key_id="AKIAOTHEROTHEROTHER1"))


def test_each_copy_of_steps_has_its_own_mfa_sessions(world: World) -> None:
    steps = world.steps()
    assert dataclasses.replace(steps)._sessions is not steps._sessions
