"""SIGKILL at every step boundary of a rotation; the next plain run finishes or undoes it."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

ROTATE = ("iam", "rotate-my-key", "--profile", "alice")


def kill_at(world, proxy, action, signed_by, reach, sig=signal.SIGKILL):  # type: ignore[no-untyped-def]
    """Run a rotation and send ``sig`` when ``action`` signed by ``signed_by`` reaches the proxy.

    reach=False drops that request (it never reaches IAM); reach=True forwards it after the
    kill, so IAM applies it but the answer is lost.
    """
    state: dict = {}
    fired = threading.Event()

    def signer_matches(key_id):  # type: ignore[no-untyped-def]
        if signed_by == "old":
            return key_id == world.old.access_key_id
        return key_id not in world.known_keys()

    def kill(call):  # type: ignore[no-untyped-def]
        if fired.is_set() or not signer_matches(call.key_id):
            return
        fired.set()
        state["call"] = call
        os.kill(state["proc"].pid, sig)  # delivered at once: the run does nothing after it

    rule = proxy.on(action, kill)
    drop = None if reach else proxy.drop(action)
    state["proc"] = world.home.spawn(*ROTATE)
    out, err = state["proc"].communicate(timeout=90)
    proxy.remove(rule)
    if drop is not None:
        proxy.remove(drop)
    assert fired.is_set(), f"the kill never fired: {proxy.actions()} {err}"
    if reach:
        # The proxy forwards the request after the kill, on its own thread: wait until IAM has
        # applied it, or a test's "before" snapshot could precede the key it creates.
        wait_until_answered(state["call"])
    return state["proc"].returncode, out, err


def wait_until_answered(call, timeout: float = 30):  # type: ignore[no-untyped-def]
    """Wait until the proxy has the upstream's answer to ``call`` (the live, logged object)."""
    deadline = time.monotonic() + timeout
    while call.status is None:
        assert time.monotonic() < deadline, f"{call.action} was never answered upstream"
        time.sleep(0.02)


# (id, action, signed by, reaches IAM, the request that must not have been seen, recovery)
BOUNDARIES = [
    ("before-create", "CreateAccessKey", "old", False, None, "RolledBack"),
    ("create-answer-lost", "CreateAccessKey", "old", True, None, "RolledBack"),
    ("saved-before-first-poll", "ListAccessKeys", "new", False, "UpdateAccessKey", "Completed"),
    ("before-deactivate", "UpdateAccessKey", "new", False, "DeleteAccessKey", "Completed"),
    ("deactivate-answer-lost", "UpdateAccessKey", "new", True, "DeleteAccessKey", "Completed"),
    ("before-delete", "DeleteAccessKey", "new", False, None, "Completed"),
    ("delete-answer-lost", "DeleteAccessKey", "new", True, None, "Completed"),
]


@pytest.mark.parametrize(
    "action, signed_by, reach, unseen, recovery",
    [b[1:] for b in BOUNDARIES],
    ids=[b[0] for b in BOUNDARIES],
)
def test_kill_at_step_boundary_then_next_run_recovers(
    world, proxy, action, signed_by, reach, unseen, recovery
):
    returncode, _, _ = kill_at(world, proxy, action, signed_by, reach)

    assert returncode == -signal.SIGKILL
    if unseen:
        assert unseen not in proxy.actions(), proxy.actions()
    # Invariants 1 and 2 right after the kill: the files hold an existing, Active key, and
    # every key IAM has is either in the files or recorded by the journal as an orphan to be.
    world.assert_files_hold_an_active_key()
    assert world.journal_exists()
    created = set(world.moto.keys(world.user)) - {world.old.access_key_id}
    if action == "CreateAccessKey" and reach:
        assert len(created) == 1 and created.isdisjoint(world.profile_keys())  # an orphan

    proxy.reset_log()
    result = world.home.run(*ROTATE)

    assert result.returncode == 0, result.stderr
    assert result.json["Recovered"]["Action"] == recovery
    assert "interrupted rotation" in result.stderr
    final = world.assert_clean_final_state()
    assert final == result.json["NewAccessKeyId"]
    if recovery == "RolledBack":
        assert result.json["Recovered"]["DeletedAccessKeyIds"] == sorted(created)
        assert result.json["OldAccessKeyId"] == world.old.access_key_id  # then rotated anew
    else:
        # Finished, not rotated again; the old key was not an "active other key" to refuse.
        assert "CreateAccessKey" not in proxy.actions()
        assert result.json["OldAccessKeyId"] == world.old.access_key_id


def test_kill_while_deleting_the_inactive_other_key(world, proxy):
    other = world.moto.make_key(world.user, status="Inactive")

    returncode, _, _ = kill_at(world, proxy, "DeleteAccessKey", "old", reach=True)

    assert returncode == -signal.SIGKILL
    assert other.access_key_id not in world.moto.keys(world.user)
    world.assert_files_hold_an_active_key()
    result = world.home.run(*ROTATE)
    assert result.returncode == 0, result.stderr
    world.assert_clean_final_state()


def test_no_delete_is_remembered_by_the_recovery(world, proxy):
    proc_args = (*ROTATE, "--no-delete")
    fired = threading.Event()
    procs = []

    def kill(call):  # type: ignore[no-untyped-def]
        if not fired.is_set():
            fired.set()
            os.kill(procs[0].pid, signal.SIGKILL)

    proxy.on("UpdateAccessKey", kill)
    proxy.drop("UpdateAccessKey")
    procs.append(world.home.spawn(*proc_args))
    procs[0].communicate(timeout=90)
    assert fired.is_set()
    proxy.clear_rules()

    result = world.home.run(*ROTATE)

    assert result.returncode == 0, result.stderr
    assert result.json["OldKeyStatus"] == "Inactive"
    assert world.moto.keys(world.user)[world.old.access_key_id] == "Inactive"


def test_dry_run_only_reports_a_pending_recovery(world, proxy):
    kill_at(world, proxy, "UpdateAccessKey", "new", reach=False)
    files_before = {p.name: p.read_bytes() for p in (world.home.root / ".aws").iterdir()}
    keys_before = world.moto.keys(world.user)
    new_id = world.home.profile_key("alice")[0]

    result = world.home.run(*ROTATE, "--dry-run")

    assert result.returncode == 0, result.stderr
    assert result.json["PendingRecovery"] == {
        "Profile": "alice",
        "OldAccessKeyId": world.old.access_key_id,
        "NewAccessKeyId": new_id,
        "Step": "retiring",  # the old key was about to be deactivated
    }
    assert {p.name: p.read_bytes() for p in (world.home.root / ".aws").iterdir()} == files_before
    assert world.moto.keys(world.user) == keys_before
    assert world.home.run(*ROTATE).json["Recovered"]["Action"] == "Completed"
    world.assert_clean_final_state()
