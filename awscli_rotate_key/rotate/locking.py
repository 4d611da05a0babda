"""The run lock: one rotation at a time per directory, released by the OS if the process dies.

POSIX: ``fcntl.flock`` on the directory itself, so no lock file is left behind. Windows cannot
lock a directory: ``msvcrt.locking`` on a lock file in it, which stays there (removing it would
let two runs lock two different files of the same name).
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Iterator

from awscli_rotate_key.errors import Refused
from awscli_rotate_key.rotate import oscalls

LOCK_FILE = "rotate-my-key.lock"  # Windows only
_BUSY = {errno.EAGAIN, errno.EACCES, getattr(errno, "EDEADLOCK", errno.EDEADLK)}


class LockTimeout(Refused):
    """Another rotation holds the lock."""


@contextlib.contextmanager
def locked(path: str, timeout: float, poll: float = 0.1) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (a directory or an existing file) for the block."""
    windows = oscalls.WINDOWS
    fd = _open_windows(path) if windows else os.open(path, os.O_RDONLY)
    try:
        deadline = time.monotonic() + timeout
        while not _try_lock(fd, windows):
            if time.monotonic() >= deadline:
                raise LockTimeout(
                    f"another rotate-my-key run holds {path}; nothing was changed. "
                    "Wait for it to finish, then run again"
                )
            time.sleep(poll)
        try:
            yield
        finally:
            if windows:
                _unlock_windows(fd)
    finally:
        os.close(fd)


def _open_windows(path: str) -> int:
    target = os.path.join(path, LOCK_FILE) if os.path.isdir(path) else path
    return os.open(target, os.O_RDWR | os.O_CREAT, 0o600)


def _try_lock(fd: int, windows: bool) -> bool:
    try:
        if windows:
            import msvcrt  # Windows only

            # Locks one byte at the file's position, which stays 0 (nothing is read or written).
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined,unused-ignore]
        else:
            import fcntl  # POSIX only

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        if error.errno not in _BUSY:
            raise
        return False
    return True


def _unlock_windows(fd: int) -> None:
    import msvcrt

    with contextlib.suppress(OSError):  # closing the file releases it too
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined,unused-ignore]
