"""Can a file be replaced the way a rotation replaces it? Asked before any change is made.

A rotation writes the new key by renaming a temporary file onto the real one. That rename must
not fail after CreateAccessKey (an immutable file, a directory that takes no new file), and it
must not leave the old key behind under another name of the same file (a hard link, or a
single-file bind mount such as ``docker run -v ~/.aws/credentials:...``, where the rename even
fails with EBUSY).
"""

from __future__ import annotations

import contextlib
import os
import tempfile

from awscli_rotate_key.rotate import oscalls

MOUNTINFO = "/proc/self/mountinfo"
_MOUNT_THE_DIRECTORY = "mount the directory, not the file"


def other_name(real: str, mountinfo: str = MOUNTINFO) -> str | None:
    """Why ``real`` (a resolved path) is not the file's only name, or None."""
    links = os.stat(real).st_nlink
    if links > 1:
        return (
            f"it has {links} names (hard links): the others would keep the old, deleted key. "
            "Keep one name (a symlink is fine)"
        )
    if real in mount_points(mountinfo):
        return f"it is a single-file (bind) mount, which cannot be replaced; {_MOUNT_THE_DIRECTORY}"
    return None


def mount_points(mountinfo: str = MOUNTINFO) -> set[str]:
    """The mount points listed in ``mountinfo`` (Linux); empty where there is no such file.

    A file bind-mounted from the same file system has a link count of 1 and is invisible to
    ``os.path.ismount``: only this list shows it.
    """
    try:
        with open(mountinfo, encoding="utf-8", errors="surrogateescape") as f:
            lines = f.read().splitlines()
    except OSError:
        return set()
    return {_unescape(line.split(" ")[4]) for line in lines if line.count(" ") >= 4}


def _unescape(field: str) -> str:
    r"""mountinfo writes space, tab, newline and backslash as octal escapes (``\040``)."""
    for code in ("040", "011", "012", "134"):
        field = field.replace("\\" + code, chr(int(code, 8)))
    return field


def why_not_writable(real: str) -> str | None:
    """Why a rotation could not replace ``real``, found without changing it; or None."""
    directory = os.path.dirname(real)
    error = try_rename_in(directory)
    if error is not None:
        return f"cannot create and rename a file in {directory} ({error.strerror or error})"
    if oscalls.flags_forbid_replacing(real):
        return "it is immutable or append-only (lsattr shows it; chattr -i -a clears it)"
    error = oscalls.can_open_for_writing(real)
    if error is not None:
        return f"it cannot be replaced ({error.strerror or error})"
    return None


def try_rename_in(directory: str) -> OSError | None:
    """Do what a write does, on probe files only: create a temp file, rename it onto another."""
    made: list[str] = []
    try:
        for _ in range(2):
            fd, path = tempfile.mkstemp(dir=directory, prefix=".rotate-my-key.", suffix=".probe")
            os.close(fd)
            made.append(path)
        oscalls.replace(made[0], made[1])
        made.pop(0)
    except OSError as error:
        return error
    finally:
        for path in made:
            with contextlib.suppress(OSError):
                os.unlink(path)
    return None
