"""The plugin's CLI commands. Imported only when the ``iam`` command table is built."""

from __future__ import annotations

import importlib
import logging
from typing import Any

LOG = logging.getLogger(__name__)

# command name -> "module:class"; modules are imported only when the iam table is built.
COMMANDS = {
    "rotate-my-key": "awscli_rotate_key.commands.rotate:RotateMyKeyCommand",
    "audit-access-keys": "awscli_rotate_key.commands.audit:AuditAccessKeysCommand",
}


def arg(name: str, help_text: str, **extra: Any) -> dict[str, Any]:
    """One ARG_TABLE entry of a BasicCommand."""
    return {"name": name, "help_text": help_text, **extra}


def lazy_commands(session):  # type: ignore[no-untyped-def]
    commands = {}
    for name, target in COMMANDS.items():
        module_name, class_name = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            # A broken install of one command must not break every `aws iam` command.
            LOG.debug("awscli-rotate-key: cannot load %s", module_name, exc_info=True)
            continue
        commands[name] = getattr(module, class_name)(session)
    return commands
