"""Never prompt unless stdin is a terminal: botocore's assume-role MFA prompt (audit-access-keys).

botocore asks for the code with getpass, which falls back to reading stdin when there is no
terminal (cron): without one, the command fails at once with one line instead.
rotate-my-key never resolves the session's credentials (it signs with the key in the files);
its own MFA code is asked for only when stdin is a terminal.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time

MFA = "arn:aws:iam::123456789012:mfa/ops"


def role_profile_with_mfa(moto_server, home):  # type: ignore[no-untyped-def]
    home.add_profile("base", moto_server.admin)
    with open(home.config, "a") as f:
        f.write(
            "[profile ops]\nrole_arn = arn:aws:iam::123456789012:role/ops\n"
            f"source_profile = base\nmfa_serial = {MFA}\n"
        )


def test_without_a_terminal_the_mfa_code_is_not_asked_for(moto_server, aws_home):
    role_profile_with_mfa(moto_server, aws_home)

    # A new session: no controlling terminal for getpass to open, as under cron.
    proc = subprocess.run(
        aws_home.argv("iam", "audit-access-keys", "--profile", "ops"),
        env=aws_home.env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        start_new_session=True,
    )

    assert proc.returncode == 255 and proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert line.startswith("audit-access-keys: the profile assumes a role with mfa_serial")
    assert "stdin is not a terminal" in line and "Enter MFA code" not in proc.stderr


def test_on_a_terminal_the_mfa_code_is_asked_for(moto_server, aws_home):
    role_profile_with_mfa(moto_server, aws_home)
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        aws_home.argv("iam", "audit-access-keys", "--profile", "ops"),
        env=aws_home.env(),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
    )
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 60
    try:
        while b"Enter MFA code" not in seen and time.monotonic() < deadline:
            if select.select([master], [], [], 0.5)[0]:
                seen += os.read(master, 4096)
    finally:
        proc.kill()
        proc.wait(timeout=30)
        os.close(master)
    assert f"Enter MFA code for {MFA}".encode() in seen, seen


def test_rotate_my_key_without_a_terminal_refuses_at_once_for_an_mfa_profile(moto_server, aws_home):
    """Its own MFA code (rotate/mfa.py) is asked for only on a terminal: exit 3 otherwise."""
    user = moto_server.make_user()
    key = moto_server.make_key(user, age_days=100)
    aws_home.add_profile("base", key)
    with open(aws_home.config, "a") as f:
        f.write(
            "[profile ops]\nrole_arn = arn:aws:iam::123456789012:role/ops\n"
            f"source_profile = base\nmfa_serial = {MFA}\n"
        )

    proc = subprocess.run(
        aws_home.argv("iam", "rotate-my-key", "--profile", "ops", "--older-than", "90"),
        env=aws_home.env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        start_new_session=True,
    )

    assert proc.returncode == 3 and proc.stdout == "", proc.stderr
    last = proc.stderr.splitlines()[-1]
    assert "stdin is not a terminal" in last and "--token-code" in last
    assert f"MFA code for {MFA}:" not in proc.stderr  # no prompt
    assert moto_server.keys(user) == {key.access_key_id: "Active"}
