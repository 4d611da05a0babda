"""The pre-checks on real files: another name for the file, a file or directory that cannot be
replaced. Tests run as root, for whom modes do not stop a write: ``chattr +i`` does."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from awscli_rotate_key.errors import EXIT_REFUSED, Refused
from awscli_rotate_key.rotate import filechecks
from tests.unit.test_rotation import Home, assert_nothing_changed, make_home

CHATTR = shutil.which("chattr")


@contextlib.contextmanager
def chattr(path: Path, flag: str) -> Iterator[None]:
    """Set an attribute for the block (always cleared: pytest could not remove the file)."""
    if CHATTR is None:
        pytest.skip("SKIPPED LOUDLY: chattr is not installed; immutable files cannot be tested")
    done = subprocess.run([CHATTR, f"+{flag}", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"SKIPPED LOUDLY: chattr +{flag} is not allowed here: {done.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run([CHATTR, f"-{flag}", str(path)], check=True)


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return make_home(tmp_path)


def test_a_file_with_one_name_passes(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    path.write_text("[dev]\n")
    assert filechecks.other_name(str(path)) is None
    assert filechecks.why_not_writable(str(path)) is None
    assert os.listdir(tmp_path) == ["credentials"]  # the probe files are gone


def test_a_hard_link_is_another_name(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    path.write_text("[dev]\n")
    os.link(path, tmp_path / "backup")
    why = filechecks.other_name(str(path))
    assert why is not None and "2 names (hard links)" in why


def test_a_file_mount_point_is_another_name(tmp_path: Path) -> None:
    path = tmp_path / "my dir" / "credentials"
    path.parent.mkdir()
    path.write_text("[dev]\n")
    escaped = str(path).replace(" ", "\\040")
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(
        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
        f"90 22 8:1 /host/credentials {escaped} rw,relatime - ext4 /dev/vda rw\n"
    )
    why = filechecks.other_name(str(path), str(mountinfo))
    assert why is not None and "mount the directory, not the file" in why
    assert filechecks.other_name(str(tmp_path / "mountinfo"), str(mountinfo)) is None
    assert filechecks.mount_points(str(tmp_path / "absent")) == set()


def test_a_0400_file_can_be_replaced(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    path.write_text("[dev]\n")
    path.chmod(0o400)
    assert filechecks.why_not_writable(str(path)) is None


@pytest.mark.parametrize("flag", ["i", "a"])
def test_an_immutable_or_append_only_file_cannot_be_replaced(tmp_path: Path, flag: str) -> None:
    path, new = tmp_path / "credentials", tmp_path / "new"
    path.write_text("[dev]\n")
    with chattr(path, flag):
        new.write_text("[dev]\n")
        with pytest.raises(PermissionError):  # what the real write would meet
            os.replace(new, path)
        new.unlink()
        why = filechecks.why_not_writable(str(path))
    assert why is not None and "immutable or append-only" in why
    assert os.listdir(tmp_path) == ["credentials"]


def test_an_immutable_file_is_found_without_the_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the flags cannot be read, opening the file for writing still refuses."""
    monkeypatch.setattr(filechecks.oscalls, "flags_forbid_replacing", lambda _: False)
    path = tmp_path / "credentials"
    path.write_text("[dev]\n")
    with chattr(path, "i"):
        why = filechecks.why_not_writable(str(path))
    assert why == "it cannot be replaced (Operation not permitted)"


def test_a_directory_that_takes_no_new_file_is_found(tmp_path: Path) -> None:
    directory = tmp_path / "aws"
    directory.mkdir()
    path = directory / "credentials"
    path.write_text("[dev]\n")
    with chattr(directory, "i"):
        why = filechecks.why_not_writable(str(path))
    assert why == f"cannot create and rename a file in {directory} (Operation not permitted)"
    assert os.listdir(directory) == ["credentials"]


# -- in the rotation: refused before any change ------------------------------------------------


def test_a_hard_linked_credentials_file_is_refused_before_any_change(home: Home) -> None:
    os.link(home.credentials, home.aws.parent / "credentials.backup")
    before = home.profile_files()

    with pytest.raises(Refused, match="hard links") as refused:
        home.run()

    assert refused.value.exit_code == EXIT_REFUSED
    assert str(refused.value).startswith(f"{home.credentials}: it has 2 names")
    assert str(refused.value).endswith("nothing was changed")
    assert_nothing_changed(home, before, {home.old.access_key_id})


def test_an_immutable_credentials_file_is_refused_before_any_change(home: Home) -> None:
    before = home.profile_files()
    with chattr(home.credentials, "i"), pytest.raises(Refused, match="immutable") as refused:
        home.run()
    assert str(refused.value).startswith(f"{home.credentials}: ")
    assert_nothing_changed(home, before, {home.old.access_key_id})


def test_a_journal_directory_that_takes_no_file_is_refused_before_any_change(
    home: Home, tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "credentials").write_bytes(home.credentials.read_bytes())
    home.credentials.unlink()
    home.files = type(home.files)(str(keys / "credentials"), home.files.config)
    with chattr(home.aws, "i"), pytest.raises(Refused, match="journal") as refused:
        home.run()
    assert str(refused.value).startswith(f"{home.aws}: cannot write the rotation journal there")
    assert home.iam.mutations() == []
    assert sorted(os.listdir(home.aws)) == ["config"]
