"""Two runs at once on the same files: one working key, no extra Active key."""

from __future__ import annotations

ROTATE = ("iam", "rotate-my-key", "--profile", "alice")


def test_second_run_gives_up_on_the_lock_with_exit_3(world, proxy):
    hold = proxy.hang("CreateAccessKey", when="before")
    first = world.home.spawn(*ROTATE)
    assert hold.reached.wait(30), "the first run never reached its critical section"

    second = world.home.run(*ROTATE, "--wait-timeout", "2")

    assert second.returncode == 3, second.stderr
    assert "another rotate-my-key run" in second.stderr and second.stdout == ""
    hold.release()
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    world.assert_clean_final_state()


def test_second_run_waits_then_finds_the_key_already_rotated(world, proxy):
    hold = proxy.hang("CreateAccessKey", when="before", seconds=2)
    first = world.home.spawn(*ROTATE, "--older-than", "90")
    assert hold.reached.wait(30)

    second = world.home.run(*ROTATE, "--older-than", "90", "--wait-timeout", "60")

    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert second.returncode == 0, second.stderr
    assert second.json["Reason"] == "NotDue" and second.json["AgeDays"] == 0
    assert proxy.actions().count("CreateAccessKey") == 1
    world.assert_clean_final_state()
