"""Accounts done / total on stderr while an organization is processed, only on a terminal."""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from awscli_rotate_key.commands.terminal import _isatty


class AccountProgress:
    """``progress(done, total)`` for the core: one line rewritten in place, ended by ``end``."""

    def __init__(self, command: str, stream: TextIO) -> None:
        self._command, self._stream = command, stream
        self._lock = threading.Lock()
        self._shown = False

    def __call__(self, done: int, total: int) -> None:
        with self._lock:
            self._stream.write(f"\r{self._command}: accounts {done}/{total}")
            self._stream.flush()
            self._shown = True

    def end(self) -> None:
        with self._lock:
            if self._shown:
                self._stream.write("\n")
                self._stream.flush()
                self._shown = False


def account_progress(
    command: str, organization: bool, stream: TextIO | None = None
) -> AccountProgress | None:
    """A progress line for ``--organization`` when stderr is a terminal; None otherwise."""
    out = stream or sys.stderr
    if not organization or not _isatty(out):
        return None
    return AccountProgress(command, out)
