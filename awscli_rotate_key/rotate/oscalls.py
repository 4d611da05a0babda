"""The few file-system calls that differ between Windows and POSIX.

``WINDOWS`` is read at call time, so tests can select the Windows code path on any machine
(with a fake ``msvcrt``). Nothing POSIX-only is imported at module level: on Windows there is no
``fcntl``, ``os.fchmod``, ``os.fchown`` or ``os.geteuid``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
import sys
import time
from typing import Any

WINDOWS = os.name == "nt"

# Windows refuses to replace a file another program has open (an editor, a virus scanner, a
# backup tool, another `aws` reading it): such a lock is usually gone within a moment.
REPLACE_PATIENCE = 2.0  # seconds
REPLACE_POLL = 0.05


def restrict(fd: int, mode: int, owner: os.stat_result | None) -> None:
    """Give the new file ``mode``, and the old file's owner when root writes it (POSIX only).

    Windows has no owner or mode bits to set here (its ACLs are out of scope, README says so).
    """
    if WINDOWS:
        return
    os.fchmod(fd, mode)
    if owner is not None and os.geteuid() == 0 and (owner.st_uid, owner.st_gid) != (0, 0):
        os.fchown(fd, owner.st_uid, owner.st_gid)


def replace(source: str, target: str) -> None:
    """``os.replace``; on Windows, retried while another program holds ``target`` open.

    Past ``REPLACE_PATIENCE`` the PermissionError is raised: the caller handles it as any
    failed write (nothing was replaced).
    """
    if not WINDOWS:
        os.replace(source, target)
        return
    deadline = time.monotonic() + REPLACE_PATIENCE
    while True:
        try:
            os.replace(source, target)
            return
        except PermissionError as error:
            if time.monotonic() >= deadline:
                raise PermissionError(
                    error.errno,
                    f"another program kept it open for {REPLACE_PATIENCE:g} s",
                    target,
                ) from None
            time.sleep(REPLACE_POLL)


def fsync_directory(directory: str) -> None:
    """Make a rename durable (POSIX); Windows cannot open a directory, nor needs to."""
    if WINDOWS:
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def can_open_for_writing(path: str) -> OSError | None:
    """Why ``path`` cannot be opened for writing (without changing it), or None.

    An immutable file (``chattr +i``), a read-only file system and, on Windows, a read-only
    file all refuse this, and all refuse the rename that replaces the file too. On POSIX a mode
    without write permission (0400) does not stop the rename, so EACCES does not count there.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    except FileNotFoundError:
        return None
    except OSError as error:
        if WINDOWS or error.errno != errno.EACCES:
            return error
        return None
    os.close(fd)
    return None


def flags_forbid_replacing(path: str) -> bool:
    """Linux: the file is immutable or append-only (``lsattr``), which even root cannot replace.

    False where the flags cannot be read (another OS, a file system without them).
    """
    if WINDOWS or not sys.platform.startswith("linux"):
        return False
    try:
        import fcntl  # POSIX only: imported here, never at module level

        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except (ImportError, OSError):
        return False
    try:
        # The kernel writes an int, whatever the request's declared size.
        raw = fcntl.ioctl(fd, _FS_IOC_GETFLAGS, bytes(8))
        flags = int.from_bytes(raw[:4], sys.byteorder)
    except OSError:
        return False
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)
    return bool(flags & (_FS_IMMUTABLE_FL | _FS_APPEND_FL))


def new_process_group() -> dict[str, Any]:
    """Popen arguments that start a command in a process group of its own, to kill it whole."""
    if WINDOWS:
        return {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x200)}
    return {"start_new_session": True}


def kill_process_group(process: subprocess.Popen[bytes]) -> None:
    """Kill ``process`` and everything it started (its group; on Windows, its process tree)."""
    if WINDOWS:
        subprocess.run(
            ["taskkill", "/F", "/T", "/PID", str(process.pid)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        with contextlib.suppress(OSError):
            process.kill()  # taskkill missing or refused: the command itself at least
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, getattr(signal, "SIGKILL", signal.SIGTERM))


# linux/fs.h: _IOR('f', 1, long) on 64-bit; FS_IMMUTABLE_FL, FS_APPEND_FL.
_FS_IOC_GETFLAGS = 0x80086601
_FS_IMMUTABLE_FL = 0x00000010
_FS_APPEND_FL = 0x00000020
