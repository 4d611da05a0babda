"""``--undo`` and the options it cannot be used with (a usage error, before any AWS call)."""

from __future__ import annotations

from typing import Any

from awscli_rotate_key.commands.options import not_together

# Each asks for something about a new rotation; --undo makes none.
_NOT_WITH_UNDO = (
    "no-delete",
    "delete",
    "delete-other-key",
    "older-than",
    "restart-command",
    "restart-timeout",
)


def undo_requested(parsed_args: Any) -> bool:
    """Whether --undo was given; InvalidOption if it is combined with a rotation's options."""
    if not getattr(parsed_args, "undo", False):
        return False
    for other in _NOT_WITH_UNDO:
        not_together("undo", other, parsed_args)
    return True
