"""The start of every changing run: take the run locks, then read the rotation in flight."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from awscli_rotate_key.errors import Refused
from awscli_rotate_key.rotate.credfile import locked
from awscli_rotate_key.rotate.local import describe

if TYPE_CHECKING:
    from awscli_rotate_key.rotate.journal import JournalRecord
    from awscli_rotate_key.rotate.rotation import Steps


@contextlib.contextmanager
def locked_run(steps: Steps, wait_timeout: float) -> Iterator[JournalRecord | None]:
    """Hold every lock of the run and yield the journaled rotation in flight, if any.

    Nothing has changed yet, so a local error here (a lock or state file that cannot be opened,
    a journal path that is a directory) refuses the run: exit 3, one line naming the file.
    """
    with contextlib.ExitStack() as stack:
        try:
            for directory in steps.lock_directories():
                stack.enter_context(locked(directory, wait_timeout))
            record = steps.journal.load()
        except OSError as error:
            raise Refused(
                f"could not lock or read the AWS files ({describe(error)}); nothing was changed"
            ) from None
        yield record
