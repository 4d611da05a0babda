"""Files a rotation could not replace, or would leave the old key in under another name, are
refused before any change (exit 3), through the real `aws` (v1 and v2).

Tests run as root, for whom a 0555 directory is writable: ``chattr +i`` makes a file or a
directory that even root cannot replace. A single-file bind mount needs a mount namespace
(``unshare -m``); each is skipped loudly where it is not allowed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.functional.test_rotate_my_key import setup_alice, snapshot
from tests.unit.test_filechecks import chattr

UNSHARE = shutil.which("unshare")
BIND_AND_RUN = 'mount --bind "$1" "$2" && shift 2 && exec "$@"'


def assert_refused_before_any_change(result, moto_server, user, old, before, home, *words):  # type: ignore[no-untyped-def]
    assert result.returncode == 3, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("rotate-my-key: "), result.stderr
    for word in words:
        assert word in lines[0]
    assert lines[0].endswith("nothing was changed")
    assert moto_server.keys(user) == {old.access_key_id: "Active"}
    assert snapshot(home) == before


def test_a_hard_linked_credentials_file_is_refused(moto_server, aws_home, tmp_path):
    user, old = setup_alice(moto_server, aws_home)
    os.link(aws_home.credentials, tmp_path / "credentials-backup")
    before = snapshot(aws_home)

    result = aws_home.run("iam", "rotate-my-key", "--profile", "alice")

    assert_refused_before_any_change(
        result, moto_server, user, old, before, aws_home, str(aws_home.credentials), "hard links"
    )
    assert (tmp_path / "credentials-backup").read_bytes() == before["credentials"]


def _mounting_allowed(tmp_path: Path) -> str | None:
    """Why a file cannot be bind-mounted in a new mount namespace here, or None."""
    if UNSHARE is None:
        return "unshare is not installed"
    a, b = tmp_path / "probe-a", tmp_path / "probe-b"
    a.touch()
    b.touch()
    done = subprocess.run(
        [UNSHARE, "-m", "sh", "-c", BIND_AND_RUN, "sh", str(a), str(b), "true"],
        capture_output=True,
        text=True,
    )
    a.unlink()
    b.unlink()
    return None if done.returncode == 0 else f"unshare -m + mount --bind: {done.stderr.strip()}"


def test_a_single_file_bind_mount_is_refused(moto_server, aws_home, tmp_path):
    why_not = _mounting_allowed(tmp_path)
    if why_not is not None:
        pytest.skip(f"SKIPPED LOUDLY: cannot test a file bind mount here ({why_not})")
    host = tmp_path / "host"
    host.mkdir()
    user, old = setup_alice(moto_server, aws_home)
    # As `docker run -v ~/.aws/credentials:/root/.aws/credentials`: the file, not its directory.
    shutil.move(aws_home.credentials, host / "credentials")
    aws_home.credentials.touch(mode=0o600)
    host_before = (host / "credentials").read_bytes()
    argv = aws_home.argv("iam", "rotate-my-key", "--profile", "alice")
    bind = [str(host / "credentials"), str(aws_home.credentials)]

    done = subprocess.run(
        [UNSHARE, "-m", "sh", "-c", BIND_AND_RUN, "sh", *bind, *argv],
        env=aws_home.env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 3, done.stderr
    line = done.stderr.strip()
    assert line.startswith(f"rotate-my-key: {aws_home.credentials}: it is a single-file (bind)")
    assert "mount the directory, not the file" in line and "\n" not in line
    assert moto_server.keys(user) == {old.access_key_id: "Active"}
    assert (host / "credentials").read_bytes() == host_before
    assert sorted(os.listdir(aws_home.root / ".aws")) == ["config", "credentials"]


def test_an_immutable_credentials_file_is_refused(moto_server, aws_home):
    user, old = setup_alice(moto_server, aws_home)
    before = snapshot(aws_home)

    with chattr(aws_home.credentials, "i"):
        result = aws_home.run("iam", "rotate-my-key", "--profile", "alice")

    assert_refused_before_any_change(
        result, moto_server, user, old, before, aws_home, str(aws_home.credentials), "immutable"
    )


def test_a_credentials_directory_that_takes_no_new_file_is_refused(moto_server, aws_home, tmp_path):
    user, old = setup_alice(moto_server, aws_home)
    keys = tmp_path / "keys"
    keys.mkdir()
    credentials = keys / "credentials"
    shutil.move(aws_home.credentials, credentials)
    aws_home.extra_env["AWS_SHARED_CREDENTIALS_FILE"] = str(credentials)
    before, credentials_before = snapshot(aws_home), credentials.read_bytes()

    with chattr(keys, "i"):
        result = aws_home.run("iam", "rotate-my-key", "--profile", "alice")

    assert_refused_before_any_change(
        result,
        moto_server,
        user,
        old,
        before,
        aws_home,
        f"rotate-my-key: {credentials}: cannot create and rename a file in {keys}",
    )
    assert credentials.read_bytes() == credentials_before
    assert os.listdir(keys) == ["credentials"]


def test_an_aws_directory_that_takes_no_new_file_is_refused(moto_server, aws_home):
    """The config directory also holds the journal: either probe refuses before any change."""
    user, old = setup_alice(moto_server, aws_home)
    before = snapshot(aws_home)
    directory = aws_home.root / ".aws"

    with chattr(directory, "i"):
        result = aws_home.run("iam", "rotate-my-key", "--profile", "alice")

    assert_refused_before_any_change(
        result, moto_server, user, old, before, aws_home, f"a file in {directory}"
    )
