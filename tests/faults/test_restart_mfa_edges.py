"""Through the real ``aws`` and the fault proxy: a service restarted on the new key keeps it,
an MFA session that expires or is too short, the
MFA device a resumed run needs.
"""

from __future__ import annotations

import json
import shlex
import signal
import sys
import time
from pathlib import Path

from tests.faults.test_mfa import CODE, NEXT_CODE, MfaWorld, make_world
from tests.faults.test_restart import ROTATE, restart_script, runs_of

JOURNAL = "rotate-my-key.journal.json"
SEES_EXPIRY = (
    "import json, os, sys; json.dump({n: os.environ.get(n) for n in "
    "('AWS_CREDENTIAL_EXPIRATION', 'AWS_SESSION_TOKEN', 'AWS_SECURITY_TOKEN')}, "
    "open(sys.argv[1], 'w'))"
)


def test_a_refused_retirement_after_a_successful_restart_is_not_undone(world, proxy, tmp_path):
    command, seen = restart_script(tmp_path)
    refuse = proxy.fail("UpdateAccessKey", "AccessDenied", status=403, times=None)

    stopped = world.home.run(*ROTATE, "--restart-command", command)

    assert stopped.returncode == 5, stopped.stderr
    line = stopped.stderr.strip().splitlines()[-1]
    assert line.startswith("rotate-my-key: IAM refused to retire the old key"), line
    assert "not undone" in line and "--restart-command" in line and "still Active" in line
    new_id = world.assert_files_hold_an_active_key()
    assert new_id != world.old.access_key_id and len(runs_of(seen)) == 1
    assert world.moto.keys(world.user) == {world.old.access_key_id: "Active", new_id: "Active"}
    assert "DeleteAccessKey" not in proxy.actions()  # the service's key was not deleted
    journal = json.loads((world.home.root / ".aws" / JOURNAL).read_text())
    assert journal["restarted"] is True

    proxy.remove(refuse)  # the policy fixed: the next plain run retires, no second restart
    finished = world.home.run(*ROTATE)

    assert finished.returncode == 0, finished.stderr
    assert finished.json["Recovered"]["Action"] == "Completed"
    assert len(runs_of(seen)) == 1
    assert world.assert_clean_final_state() == new_id


def test_the_restart_command_does_not_see_a_credential_expiry(world, tmp_path):
    seen = tmp_path / "env.json"
    command = (
        f"{shlex.quote(sys.executable)} -c {shlex.quote(SEES_EXPIRY)} {shlex.quote(str(seen))}"
    )
    world.home.extra_env["AWS_CREDENTIAL_EXPIRATION"] = "2030-01-01T00:00:00Z"

    result = world.home.run(*ROTATE, "--restart-command", command)

    assert result.returncode == 0, result.stderr
    assert json.loads(seen.read_text()) == {
        "AWS_CREDENTIAL_EXPIRATION": None,
        "AWS_SESSION_TOKEN": None,
        "AWS_SECURITY_TOKEN": None,
    }


def test_an_mfa_session_that_expires_before_retiring_stops_without_undoing(
    moto_server, proxy, proxied_home
):
    mfa = make_world(moto_server, proxy, proxied_home)
    proxy.on("DeleteAccessKey", lambda call: mfa.play.expire_sessions())

    stopped = mfa.rotate("--token-code", CODE)

    assert stopped.returncode == 5, stopped.stderr
    line = stopped.stderr.strip().splitlines()[-1]
    assert line.startswith("rotate-my-key: the MFA session expired"), line
    assert "new, working key" in line and "with a new code to finish" in line
    new_id = mfa.home.profile_key("alice")[0]
    assert new_id != mfa.old.access_key_id
    assert mfa.moto.keys(mfa.user) == {mfa.old.access_key_id: "Active", new_id: "Active"}
    assert [c.error_code for c in proxy.calls if c.action == "DeleteAccessKey"] == ["ExpiredToken"]

    proxy.clear_rules()
    finished = mfa.rotate("--token-code", NEXT_CODE)

    assert finished.returncode == 0, finished.stderr
    assert mfa.moto.keys(mfa.user) == {new_id: "Active"}


def test_the_mfa_session_lasts_through_a_long_restart_timeout(moto_server, proxy, proxied_home):
    mfa = make_world(moto_server, proxy, proxied_home)

    result = mfa.rotate(
        "--token-code", CODE, "--restart-command", "true", "--restart-timeout", "7200"
    )

    assert result.returncode == 0, result.stderr
    (session,) = mfa.play.sessions.values()
    assert session.expires - time.time() > 7200  # 15 minutes before this fix


def killed_while_proving(mfa: MfaWorld, *args: str) -> str:
    known = {mfa.old.access_key_id, mfa.moto.admin.access_key_id}
    refuse_new = mfa.proxy.reject_keys(lambda k: k.startswith("AKIA") and k not in known)
    proc = mfa.home.spawn(*ROTATE, *args)
    deadline = time.monotonic() + 60
    while refuse_new.hits == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    mfa.proxy.remove(refuse_new)
    new_id = mfa.home.profile_key("alice")[0]
    assert new_id is not None and new_id != mfa.old.access_key_id
    return new_id


def test_a_resumed_rotation_names_the_mfa_device_it_needs(moto_server, proxy, proxied_home):
    mfa = make_world(moto_server, proxy, proxied_home)
    config = mfa.home.config.read_text().replace(f"mfa_serial = {mfa.serial}\n", "")
    mfa.home.config.write_text(config)  # the device is given by --mfa-serial only
    new_id = killed_while_proving(mfa, "--mfa-serial", mfa.serial, "--token-code", CODE)
    journal = json.loads((mfa.home.root / ".aws" / JOURNAL).read_text())
    assert journal["mfa_device"] == mfa.serial
    proxy.reset_log()

    without = mfa.rotate()

    assert without.returncode == 3, without.stderr
    assert without.stderr == (
        f"rotate-my-key: an interrupted rotation of profile 'alice' needs the MFA device "
        f"{mfa.serial}: run `aws iam rotate-my-key --mfa-serial {mfa.serial} --token-code CODE` "
        "to finish it; nothing was changed\n"
    )
    assert proxy.calls == []  # before any AWS call

    no_code = mfa.rotate("--mfa-serial", mfa.serial)
    assert no_code.returncode == 3, no_code.stderr
    assert "an interrupted rotation of profile 'alice' is pending" in no_code.stderr
    assert "--token-code" in no_code.stderr

    finished = mfa.rotate("--mfa-serial", mfa.serial, "--token-code", NEXT_CODE)
    assert finished.returncode == 0, finished.stderr
    assert mfa.moto.keys(mfa.user) == {new_id: "Active"}
    assert mfa.play.denied == []  # every key action went through a session


def test_files_of_an_abandoned_rotation_keep_their_restart_key(world, proxy, tmp_path):
    """Not undone across runs either: the files put back on the old key by hand."""
    command, _ = restart_script(tmp_path)
    refuse = proxy.fail("UpdateAccessKey", "AccessDenied", status=403, times=None)
    assert world.home.run(*ROTATE, "--restart-command", command).returncode == 5
    new_id = world.home.profile_key("alice")[0]
    proxy.remove(refuse)
    text = world.home.credentials.read_text()
    new_secret = world.home.profile_key("alice")[1]
    assert new_id is not None and new_secret is not None
    restored = text.replace(new_id, world.old.access_key_id)
    world.home.credentials.write_text(restored.replace(new_secret, world.old.secret_access_key))
    config = world.home.config.read_text().replace(new_id, world.old.access_key_id)
    world.home.config.write_text(config.replace(new_secret, world.old.secret_access_key))

    kept = world.home.run(*ROTATE)

    assert kept.returncode == 3, kept.stderr
    assert f"delete-access-key --access-key-id {new_id}" in kept.stderr
    assert world.moto.keys(world.user) == {world.old.access_key_id: "Active", new_id: "Active"}
    assert Path(world.home.root / ".aws" / JOURNAL).exists()
