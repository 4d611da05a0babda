"""SIGKILL in the middle of ``--undo``: the next run finishes the undo (it is journaled)."""

from __future__ import annotations

import os
import signal
import threading

import pytest

ROTATE = ("iam", "rotate-my-key", "--profile", "alice")

# (id, action, signed by, when the kill fires: before IAM sees it / after IAM acted)
BOUNDARIES = [
    ("before-reactivate", "UpdateAccessKey", "new", "before"),
    ("reactivated-answer-lost", "UpdateAccessKey", "new", "after"),
    ("while-proving", "ListAccessKeys", "old", "before"),
    ("before-deleting-the-new-key", "DeleteAccessKey", "old", "before"),
    ("delete-answer-lost", "DeleteAccessKey", "old", "after"),
]


def kill_undo_at(world, proxy, action, signer, when):  # type: ignore[no-untyped-def]
    """Run ``--undo`` and SIGKILL it when ``action`` signed by ``signer`` reaches the proxy.

    when="before": the request is dropped (IAM never sees it); "after": IAM acted, the answer
    is lost (the kill fires before the proxy replies, so nothing races the next run).
    """
    procs: list = []
    fired = threading.Event()

    def kill(call):  # type: ignore[no-untyped-def]
        if fired.is_set() or call.key_id != signer:
            return
        fired.set()
        os.kill(procs[0].pid, signal.SIGKILL)

    rule = proxy.on(action, kill, when=when)
    drop = proxy.drop(action) if when == "before" and action != "ListAccessKeys" else None
    procs.append(world.home.spawn(*ROTATE, "--undo"))
    _, err = procs[0].communicate(timeout=90)
    proxy.remove(rule)
    if drop is not None:
        proxy.remove(drop)
    assert fired.is_set(), f"the kill never fired: {proxy.actions()} {err}"
    return procs[0].returncode


@pytest.mark.parametrize(
    "action, signed_by, when", [b[1:] for b in BOUNDARIES], ids=[b[0] for b in BOUNDARIES]
)
def test_a_killed_undo_is_finished_by_the_next_run(world, proxy, action, signed_by, when):
    rotated = world.home.run(*ROTATE, "--no-delete")
    assert rotated.returncode == 0, rotated.stderr
    old_id, new_id = world.old.access_key_id, rotated.json["NewAccessKeyId"]
    signer = new_id if signed_by == "new" else old_id

    returncode = kill_undo_at(world, proxy, action, signer, when)

    assert returncode == -signal.SIGKILL
    world.assert_files_hold_an_active_key()
    assert world.journal_exists()

    result = world.home.run(*ROTATE, "--undo")

    assert result.returncode == 0, result.stderr
    assert result.json["Undone"] is True
    assert (result.json["RestoredAccessKeyId"], result.json["DeletedAccessKeyId"]) == (
        old_id,
        new_id,
    )
    assert result.json["Recovered"]["Action"] == "Undone"
    assert "interrupted --undo" in result.stderr
    assert world.assert_clean_final_state() == old_id
    assert world.home.profile_key("alice-cfg") == (old_id, world.old.secret_access_key)


def test_a_plain_run_after_a_killed_undo_finishes_it_then_rotates(world, proxy):
    rotated = world.home.run(*ROTATE, "--no-delete")
    old_id, new_id = world.old.access_key_id, rotated.json["NewAccessKeyId"]
    kill_undo_at(world, proxy, "DeleteAccessKey", old_id, "before")

    result = world.home.run(*ROTATE)

    assert result.returncode == 0, result.stderr
    assert result.json["Recovered"] == {
        "Action": "Undone",
        "Profile": "alice",
        "RestoredAccessKeyId": old_id,
        "DeletedAccessKeyId": new_id,
    }
    assert result.json["OldAccessKeyId"] == old_id  # the restored key, then rotated as asked
    assert world.assert_clean_final_state() == result.json["NewAccessKeyId"]
