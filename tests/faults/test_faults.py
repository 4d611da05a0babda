"""Errors, hangs, pauses and Ctrl-C injected by the proxy; no run leaves two active keys."""

from __future__ import annotations

import os
import signal
import threading
import time

ROTATE = ("iam", "rotate-my-key", "--profile", "alice")


def signal_at(world, proxy, action, sig, signed_by_new=True, pause=0.0):  # type: ignore[no-untyped-def]
    """Run a rotation; send ``sig`` when ``action`` (signed by the new key) reaches the proxy."""
    procs: list = []
    fired = threading.Event()

    def send(call):  # type: ignore[no-untyped-def]
        is_new = call.key_id not in world.known_keys()
        if fired.is_set() or is_new != signed_by_new:
            return
        fired.set()
        os.kill(procs[0].pid, sig)
        if pause:
            time.sleep(pause)
            os.kill(procs[0].pid, signal.SIGCONT)

    proxy.on(action, send)
    procs.append(world.home.spawn(*ROTATE, "--wait-timeout", "3"))
    out, err = procs[0].communicate(timeout=90)
    proxy.clear_rules()
    assert fired.is_set(), proxy.actions()
    return procs[0].returncode, out, err


def test_transient_retirement_failures_beyond_the_budget_exit_5_then_next_run_finishes(
    world, proxy
):
    proxy.fail("UpdateAccessKey", "ServiceUnavailable", status=503, times=None)

    result = world.home.run(*ROTATE, "--wait-timeout", "3")

    assert result.returncode == 5, result.stderr
    assert world.old.access_key_id in result.stderr and "still Active" in result.stderr
    new_id = world.assert_files_hold_an_active_key()
    assert new_id != world.old.access_key_id
    assert proxy.actions().count("UpdateAccessKey") >= 2  # retried within the budget

    proxy.clear_rules()
    again = world.home.run(*ROTATE)

    assert again.returncode == 0, again.stderr
    assert again.json["Recovered"]["Action"] == "Completed"
    assert world.assert_clean_final_state() == new_id


def test_server_error_after_create_reached_iam_leaves_no_orphan(world, proxy):
    proxy.fail("CreateAccessKey", "InternalFailure", status=500, after=True)

    result = world.home.run(*ROTATE)

    assert result.returncode == 4, result.stderr
    assert "was deleted" in result.stderr
    assert world.moto.keys(world.user) == {world.old.access_key_id: "Active"}
    assert world.profile_keys() == {world.old.access_key_id}
    assert not world.journal_exists()


def test_connection_dropped_after_create_reached_iam_leaves_no_orphan(world, proxy):
    proxy.drop("CreateAccessKey", when="after")

    result = world.home.run(*ROTATE)

    assert result.returncode == 4, result.stderr
    assert world.moto.keys(world.user) == {world.old.access_key_id: "Active"}
    assert not world.journal_exists()


def test_create_hanging_after_it_reached_iam_times_out_and_leaves_no_orphan(world, proxy):
    rule = proxy.hang("CreateAccessKey", when="after")

    result = world.home.run(*ROTATE, "--wait-timeout", "4")

    rule.release()
    assert result.returncode == 4, result.stderr
    assert world.moto.keys(world.user) == {world.old.access_key_id: "Active"}
    assert world.profile_keys() == {world.old.access_key_id}


def test_retirement_hanging_before_iam_exits_5_then_next_run_finishes(world, proxy):
    rule = proxy.hang("UpdateAccessKey", when="before")

    result = world.home.run(*ROTATE, "--wait-timeout", "3")

    rule.release()
    proxy.clear_rules()
    assert result.returncode == 5, result.stderr
    world.assert_files_hold_an_active_key()
    again = world.home.run(*ROTATE)
    assert again.returncode == 0, again.stderr
    world.assert_clean_final_state()


def test_access_denied_on_delete_after_deactivation_rolls_back(world, proxy):
    proxy.fail("DeleteAccessKey", "AccessDenied", status=403, times=1)

    result = world.home.run(*ROTATE)

    assert result.returncode == 4, result.stderr
    assert world.moto.keys(world.user) == {world.old.access_key_id: "Active"}  # reactivated
    assert world.profile_keys() == {world.old.access_key_id}
    assert not world.journal_exists()


def test_pause_longer_than_wait_timeout_then_resume(world, proxy):
    """SIGSTOP/SIGCONT: a laptop that sleeps in the middle of the wait."""
    returncode, _, err = signal_at(world, proxy, "ListAccessKeys", signal.SIGSTOP, pause=5)

    assert returncode in (0, 4), err
    world.assert_files_hold_an_active_key()
    result = world.home.run(*ROTATE, "--older-than", "90")
    assert result.returncode == 0, result.stderr
    world.assert_clean_final_state()


def test_ctrl_c_during_the_wait_rolls_back(world, proxy):
    returncode, out, err = signal_at(world, proxy, "ListAccessKeys", signal.SIGINT)

    assert returncode == 130, err
    assert "interrupted" in err
    assert world.moto.keys(world.user) == {world.old.access_key_id: "Active"}
    assert world.profile_keys() == {world.old.access_key_id}
    assert not world.journal_exists()


def test_ctrl_c_during_retirement_is_finished_by_the_next_run(world, proxy):
    returncode, out, err = signal_at(world, proxy, "UpdateAccessKey", signal.SIGINT)

    assert returncode == 130, err
    world.assert_files_hold_an_active_key()
    result = world.home.run(*ROTATE)
    assert result.returncode == 0, result.stderr
    assert result.json["Recovered"]["Action"] == "Completed"
    world.assert_clean_final_state()
