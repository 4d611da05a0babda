"""Local I/O errors in the user's words: what failed, on which file, never a bare errno."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from awscli_rotate_key.errors import Refused


def describe(error: BaseException) -> str:
    """``Permission denied: /home/alice/.aws/config`` rather than ``[Errno 13] ... .tmp``."""
    if not isinstance(error, OSError):
        return str(error)
    what = error.strerror or type(error).__name__
    name = error.filename
    if not isinstance(name, str):
        return what
    base = os.path.basename(name)
    if base.startswith(".") and base.endswith(".tmp"):
        # A temporary file of an atomic write: the directory is what the user can fix.
        return f"{what}: a temporary file in {os.path.dirname(name) or '.'}"
    return f"{what}: {name}"


@contextlib.contextmanager
def refused_on_local_error(doing: str) -> Iterator[None]:
    """For steps before any change: an OSError becomes a refusal (exit 3) saying ``doing``."""
    try:
        yield
    except OSError as error:
        raise Refused(f"could not {doing} ({describe(error)}); nothing was changed") from None
