"""Recovery in awkward states: outages after retirement began, other profiles, other files."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
import threading
import time

from tests.faults.test_kills import ROTATE, kill_at


def test_outage_after_the_old_key_was_deleted_keeps_the_new_key(world, proxy):
    kill_at(world, proxy, "DeleteAccessKey", "new", reach=True)
    new_id = world.assert_files_hold_an_active_key()
    proxy.fail("ListAccessKeys", "ServiceUnavailable", status=503, times=None)

    outage = world.home.run(*ROTATE, "--wait-timeout", "2")

    assert outage.returncode == 5, outage.stderr
    assert "not restored" in outage.stderr
    assert world.home.profile_key("alice")[0] == new_id  # never the deleted old key
    world.assert_files_hold_an_active_key()
    proxy.clear_rules()
    again = world.home.run(*ROTATE)
    assert again.returncode == 0, again.stderr
    assert world.assert_clean_final_state() == new_id


def test_outage_after_the_old_key_was_deactivated_keeps_the_new_key(world, proxy):
    kill_at(world, proxy, "UpdateAccessKey", "new", reach=True)
    new_id = world.assert_files_hold_an_active_key()
    proxy.fail("ListAccessKeys", "ServiceUnavailable", status=503, times=None)

    outage = world.home.run(*ROTATE, "--wait-timeout", "2")

    assert outage.returncode == 5, outage.stderr
    assert world.home.profile_key("alice")[0] == new_id
    world.assert_files_hold_an_active_key()


def test_a_recovery_for_another_profile_does_not_stand_for_this_rotation(world, proxy):
    bob = world.moto.make_user()
    bob_key = world.moto.make_key(bob, age_days=200)
    world.home.add_profile("bob", bob_key)
    kill_at(world, proxy, "UpdateAccessKey", "new", reach=False)

    result = world.home.run("iam", "rotate-my-key", "--profile", "bob")

    assert result.returncode == 0, result.stderr
    assert result.json["Recovered"]["Action"] == "Completed"
    assert result.json["Recovered"]["Profile"] == "alice"
    assert result.json["OldAccessKeyId"] == bob_key.access_key_id  # bob was rotated too
    assert list(world.moto.keys(bob).values()) == ["Active"]
    assert world.home.profile_key("bob")[0] != bob_key.access_key_id
    world.assert_clean_final_state()


def test_a_pending_recovery_for_other_files_is_refused(world, proxy, tmp_path):
    bob = world.moto.make_user()
    bob_key = world.moto.make_key(bob)
    returncode, _, _ = kill_at(world, proxy, "CreateAccessKey", "old", reach=True)
    assert returncode == -signal.SIGKILL
    alice_keys, bob_keys = world.moto.keys(world.user), world.moto.keys(bob)
    other = tmp_path / "other-credentials"
    other.write_text(
        f"[alice]\naws_access_key_id = {bob_key.access_key_id}\n"
        f"aws_secret_access_key = {bob_key.secret_access_key}\n"
    )
    world.home.extra_env["AWS_SHARED_CREDENTIALS_FILE"] = str(other)

    result = world.home.run(*ROTATE)

    assert result.returncode == 3, result.stderr
    assert "pending" in result.stderr and str(world.home.credentials) in result.stderr
    assert (world.moto.keys(world.user), world.moto.keys(bob)) == (alice_keys, bob_keys)
    assert world.journal_exists()
    del world.home.extra_env["AWS_SHARED_CREDENTIALS_FILE"]
    assert world.home.run(*ROTATE).returncode == 0
    world.assert_clean_final_state()


SNOOP = """
import os, sys
_tmp = os.environ.get("SNOOP_TMP")
_log = os.environ.get("SNOOP_LOG")
def _hook(event, args):
    if event == "open" and _tmp and args and isinstance(args[0], str):
        if args[0].startswith(_tmp) and (args[2] or 0) & (os.O_WRONLY | os.O_RDWR):
            with open(_log, "a") as f:
                f.write(args[0] + "\\n")
sys.addaudithook(_hook)
"""


def test_no_file_in_the_temporary_directory_is_written(world, tmp_path):
    """Secrets go to no file but the profile's own and the rollback file (issue 2)."""
    hooks, scratch = tmp_path / "hooks", tmp_path / "tmpdir"
    hooks.mkdir()
    scratch.mkdir()
    (hooks / "sitecustomize.py").write_text(textwrap.dedent(SNOOP))
    log = tmp_path / "opened.txt"
    path = os.pathsep.join([str(hooks), *filter(None, [os.environ.get("PYTHONPATH")])])
    world.home.extra_env.update(
        TMPDIR=str(scratch), SNOOP_TMP=str(scratch), SNOOP_LOG=str(log), PYTHONPATH=path
    )
    # The hook must really see writes, or this test would prove nothing.
    probe = world.home.run("configure", "set", "region", "eu-west-1")
    assert probe.returncode == 0
    import subprocess

    subprocess.run(
        [sys.executable, "-c", "import tempfile; tempfile.mkstemp()"],
        env=world.home.env(),
        check=True,
    )
    assert log.exists(), "the audit hook saw no write in TMPDIR"
    log.unlink()

    result = world.home.run(*ROTATE)

    assert result.returncode == 0, result.stderr
    assert not log.exists(), log.read_text()


def test_a_hung_poll_does_not_carry_the_run_far_past_the_wait_timeout(world, proxy):
    release = threading.Event()
    known = world.known_keys()
    proxy.on("ListAccessKeys", lambda call: call.key_id in known or release.wait(60))
    started = time.monotonic()

    result = world.home.run(*ROTATE, "--wait-timeout", "8")

    elapsed = time.monotonic() - started
    release.set()
    assert result.returncode == 4, result.stderr
    assert elapsed < 8 + 2 + 4, elapsed  # the budget, one read timeout (8 / 4 s), start-up
    assert world.moto.keys(world.user) == {world.old.access_key_id: "Active"}
