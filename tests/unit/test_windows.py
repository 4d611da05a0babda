"""The file and lock layer with the Windows code path selected, on this (POSIX) machine.

``windows`` forces ``oscalls.WINDOWS``, puts a fake ``msvcrt`` in ``sys.modules``, blocks
``fcntl`` and removes the ``os`` functions Windows lacks, so any POSIX-only call on the path
fails the test. What this cannot show (README, "Windows: what is tested and what is not"): lock
release when a process dies, ``os.replace`` against a real open file, Windows paths.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from awscli_rotate_key.errors import RolledBack
from awscli_rotate_key.rotate import filechecks, oscalls
from awscli_rotate_key.rotate.credfile import LockTimeout, locked, update_file, write_atomically
from awscli_rotate_key.rotate.locking import LOCK_FILE
from tests.unit.test_rotation import Home, make_home

NEW = {"aws_access_key_id": "AKIANEW", "aws_secret_access_key": "NEWSECRET"}
REPO = Path(__file__).resolve().parents[2]


class FakeMsvcrt(types.ModuleType):
    """``msvcrt.locking`` as Windows does it: byte-range locks per open handle, non-blocking."""

    LK_UNLCK, LK_LOCK, LK_NBLCK, LK_RLCK, LK_NBRLCK = 0, 1, 2, 3, 4

    def __init__(self) -> None:
        super().__init__("msvcrt")
        self.held: dict[tuple[int, int], int] = {}  # (device, inode) -> fd holding byte 0
        self.calls: list[tuple[int, int, int]] = []  # (mode, bytes, file position)
        self._mutex = threading.Lock()

    def locking(self, fd: int, mode: int, nbytes: int) -> None:
        st = os.fstat(fd)
        key = (st.st_dev, st.st_ino)
        with self._mutex:
            self.calls.append((mode, nbytes, os.lseek(fd, 0, os.SEEK_CUR)))
            if mode == self.LK_NBLCK:
                if key in self.held:
                    raise OSError(errno.EACCES, "Permission denied")
                self.held[key] = fd
            elif mode == self.LK_UNLCK:
                if self.held.get(key) != fd:
                    raise OSError(errno.EACCES, "Permission denied")
                del self.held[key]
            else:
                raise AssertionError(f"unexpected locking mode {mode}")


@pytest.fixture
def msvcrt(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeMsvcrt]:
    fake = FakeMsvcrt()
    monkeypatch.setattr(oscalls, "WINDOWS", True)
    monkeypatch.setitem(sys.modules, "msvcrt", fake)
    monkeypatch.setitem(sys.modules, "fcntl", None)  # `import fcntl` raises ImportError
    for name in ("fchmod", "fchown", "geteuid"):
        monkeypatch.delattr(os, name, raising=False)
    yield fake


class FakeTime:
    """Stands in for the ``time`` module inside ``oscalls``: only ``sleep`` moves the clock."""

    def __init__(self) -> None:
        self.now, self.sleeps = 100.0, list[float]()

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def open_elsewhere(monkeypatch: pytest.MonkeyPatch, target: Path, times: int | None) -> list[str]:
    """``os.replace`` onto ``target`` fails as on Windows while another program has it open."""
    real_replace, attempts = os.replace, list[str]()

    def replace(src: str, dst: str) -> None:
        if os.path.realpath(dst) == str(target.resolve()):
            attempts.append(dst)
            if times is None or len(attempts) <= times:
                raise PermissionError(errno.EACCES, "Access is denied", dst)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    return attempts


# -- the lock -------------------------------------------------------------------------------


def test_the_lock_is_a_lock_file_in_the_directory(msvcrt: FakeMsvcrt, tmp_path: Path) -> None:
    with locked(str(tmp_path), timeout=0):
        assert (tmp_path / LOCK_FILE).is_file()
        assert len(msvcrt.held) == 1
    assert msvcrt.held == {}
    assert msvcrt.calls == [(msvcrt.LK_NBLCK, 1, 0), (msvcrt.LK_UNLCK, 1, 0)]
    assert os.listdir(tmp_path) == [LOCK_FILE]  # left behind on purpose (see locking.py)


def test_a_second_lock_waits_then_times_out_with_the_message(
    msvcrt: FakeMsvcrt, tmp_path: Path
) -> None:
    errors: list[BaseException] = []

    def second() -> None:
        try:
            with locked(str(tmp_path), timeout=0.3, poll=0.05):
                pass
        except LockTimeout as error:
            errors.append(error)

    with locked(str(tmp_path), timeout=0):
        started = time.monotonic()
        thread = threading.Thread(target=second)
        thread.start()
        thread.join(5)
        assert 0.3 <= time.monotonic() - started < 2.0
    assert len(errors) == 1
    assert f"another rotate-my-key run holds {tmp_path}; nothing was changed" in str(errors[0])
    assert msvcrt.calls.count((msvcrt.LK_NBLCK, 1, 0)) >= 1 + 3  # the second one polled


def test_a_waiting_lock_gets_it_once_released(msvcrt: FakeMsvcrt, tmp_path: Path) -> None:
    got = threading.Event()

    def second() -> None:
        with locked(str(tmp_path), timeout=5, poll=0.02):
            got.set()

    with locked(str(tmp_path), timeout=0):
        thread = threading.Thread(target=second)
        thread.start()
        assert not got.wait(0.2)
    assert got.wait(5)
    thread.join(5)
    assert msvcrt.held == {}
    assert msvcrt.calls.count((msvcrt.LK_UNLCK, 1, 0)) == 2


def test_the_lock_is_released_when_the_block_raises(msvcrt: FakeMsvcrt, tmp_path: Path) -> None:
    with pytest.raises(ValueError), locked(str(tmp_path), timeout=0):
        raise ValueError("boom")
    assert msvcrt.calls == [(msvcrt.LK_NBLCK, 1, 0), (msvcrt.LK_UNLCK, 1, 0)]
    with locked(str(tmp_path), timeout=0):
        pass


# -- the atomic write -----------------------------------------------------------------------


def test_update_file_sets_no_mode_or_owner_and_warns_nothing(
    msvcrt: FakeMsvcrt, tmp_path: Path
) -> None:
    path = tmp_path / "credentials"
    path.write_text("[dev]\naws_access_key_id = AKIAOLD\naws_secret_access_key = OLD\n")
    path.chmod(0o644)  # what os.stat shows on Windows for any writable file (0o666)
    warnings: list[str] = []

    update_file(str(path), {"dev": NEW}, None, warnings.append)

    assert "AKIANEW" in path.read_text()
    assert warnings == []
    assert os.listdir(tmp_path) == ["credentials"]


@pytest.mark.parametrize("times", [1, 5, 30])
def test_a_replace_refused_while_the_file_is_open_is_retried(
    msvcrt: FakeMsvcrt, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, times: int
) -> None:
    clock = FakeTime()
    monkeypatch.setattr(oscalls, "time", clock)
    path = tmp_path / "credentials"
    path.write_bytes(b"old")
    attempts = open_elsewhere(monkeypatch, path, times)

    write_atomically(str(path), b"new")

    assert path.read_bytes() == b"new"
    assert len(attempts) == times + 1
    assert sum(clock.sleeps) <= oscalls.REPLACE_PATIENCE
    assert os.listdir(tmp_path) == ["credentials"]


def test_a_file_open_for_more_than_2_s_fails_the_write_and_keeps_it(
    msvcrt: FakeMsvcrt, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = FakeTime()
    monkeypatch.setattr(oscalls, "time", clock)
    path = tmp_path / "credentials"
    path.write_bytes(b"old")
    open_elsewhere(monkeypatch, path, None)

    with pytest.raises(PermissionError, match="another program kept it open for 2 s") as raised:
        write_atomically(str(path), b"new")

    assert raised.value.filename == str(path)
    assert oscalls.REPLACE_PATIENCE == 2.0
    assert 2.0 <= clock.now - 100.0 < 2.0 + 2 * oscalls.REPLACE_POLL
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["credentials"]


def test_a_posix_replace_is_never_retried(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(oscalls, "WINDOWS", False)
    path = tmp_path / "credentials"
    path.write_bytes(b"old")
    attempts = open_elsewhere(monkeypatch, path, None)

    with pytest.raises(PermissionError, match="Access is denied"):
        write_atomically(str(path), b"new")
    assert len(attempts) == 1


def test_a_read_only_file_is_found_by_the_pre_check(msvcrt: FakeMsvcrt, tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    path.write_bytes(b"[dev]\n")
    path.chmod(0o444)  # Windows' read-only attribute; root on POSIX would still open it

    real_open = os.open

    def windows_open(file: str, flags: int, *args: int) -> int:
        if file == str(path) and flags & os.O_WRONLY:
            raise PermissionError(errno.EACCES, "Permission denied", file)
        return real_open(file, flags, *args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "open", windows_open)
        why = filechecks.why_not_writable(str(path))
    assert why is not None and "cannot be replaced (Permission denied)" in why
    assert os.listdir(tmp_path) == ["credentials"]


# -- the whole rotation ---------------------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return make_home(tmp_path)


def test_a_rotation_runs_on_the_windows_path(msvcrt: FakeMsvcrt, home: Home) -> None:
    result = home.run()

    assert home.key_of().access_key_id == result.to_output()["NewAccessKeyId"]
    assert msvcrt.held == {}
    assert sorted(p.name for p in home.aws.iterdir()) == ["config", "credentials", LOCK_FILE]


def test_credentials_open_elsewhere_past_2_s_undo_the_rotation_exit_4(
    msvcrt: FakeMsvcrt, monkeypatch: pytest.MonkeyPatch, home: Home
) -> None:
    clock = FakeTime()
    monkeypatch.setattr(oscalls, "time", clock)
    open_elsewhere(monkeypatch, home.credentials, None)
    before = home.profile_files()

    with pytest.raises(RolledBack, match="another program kept it open for 2 s") as rolled_back:
        home.run()

    assert rolled_back.value.exit_code == 4
    assert "the new key was deleted" in str(rolled_back.value)
    assert [k.key_id for k in home.iam.keys_of("alice")] == [home.old.access_key_id]
    assert home.profile_files() == before
    assert home.in_flight() == set()
    assert msvcrt.held == {}


# -- no fcntl anywhere at import time ---------------------------------------------------------

WITHOUT_FCNTL = """
import importlib, json, os, pkgutil, sys, tempfile, types

class NoFcntl:
    def find_spec(self, name, path=None, target=None):
        if name == "fcntl":
            raise ImportError("No module named 'fcntl' (blocked: Windows has none)")

sys.modules.pop("fcntl", None)
sys.meta_path.insert(0, NoFcntl())
import botocore  # before awscli, as the CLI does
import awscli_rotate_key
names = [m.name for m in pkgutil.walk_packages(awscli_rotate_key.__path__, "awscli_rotate_key.")]
for name in names:
    importlib.import_module(name)

# And the Windows path works end to end without it: lock, write, pre-checks.
from awscli_rotate_key.rotate import credfile, filechecks, oscalls
oscalls.WINDOWS = True
fake = types.ModuleType("msvcrt")
fake.LK_NBLCK, fake.LK_UNLCK, fake.log = 2, 0, []
fake.locking = lambda fd, mode, n: fake.log.append(mode)
sys.modules["msvcrt"] = fake
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "credentials")
    with open(path, "w") as f:
        f.write("[dev]\\naws_access_key_id = AKIAOLD\\n")
    with credfile.locked(tmp, 0):
        credfile.update_file(path, {"dev": {"aws_access_key_id": "AKIANEW"}}, None, print)
    problems = [filechecks.other_name(path), filechecks.why_not_writable(path)]
print(json.dumps({"modules": names, "fcntl": "fcntl" in sys.modules, "locking": fake.log,
                  "problems": problems}))
"""


def test_every_module_imports_and_the_windows_path_runs_without_fcntl() -> None:
    out = subprocess.run(
        [sys.executable, "-c", WITHOUT_FCNTL], capture_output=True, text=True, cwd=REPO
    )
    assert out.returncode == 0, out.stderr
    probe = json.loads(out.stdout)
    assert {"awscli_rotate_key.rotate.credfile", "awscli_rotate_key.commands.rotate"} <= set(
        probe["modules"]
    )
    assert len(probe["modules"]) >= 20
    assert probe["fcntl"] is False
    assert probe["locking"] == [2, 0]
    assert probe["problems"] == [None, None]
