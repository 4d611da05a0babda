"""The plugin's CLI commands. Imported only when the ``iam`` command table is built."""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

LOG = logging.getLogger(__name__)

# command name -> "module:class"; modules are imported only when the iam table is built.
COMMANDS = {
    "rotate-my-key": "awscli_rotate_key.commands.rotate:RotateMyKeyCommand",
    "audit-access-keys": "awscli_rotate_key.commands.audit:AuditAccessKeysCommand",
    "enforce-key-rotation": "awscli_rotate_key.commands.enforce:EnforceKeyRotationCommand",
}

# errors.EXIT_UNEXPECTED, not imported: the stand-in must work however broken the install is.
CANNOT_RUN = 255


def arg(name: str, help_text: str, **extra: Any) -> dict[str, Any]:
    """One ARG_TABLE entry of a BasicCommand."""
    return {"name": name, "help_text": help_text, **extra}


def lazy_commands(session):  # type: ignore[no-untyped-def]
    """Every command of the plugin; one that cannot be loaded gets a stand-in that says so."""
    commands = {}
    for name, target in COMMANDS.items():
        module_name, class_name = target.split(":")
        try:
            module = importlib.import_module(module_name)
            commands[name] = getattr(module, class_name)(session)
        except Exception as error:
            # A broken install of one command must neither break every `aws iam` command nor
            # make this one vanish or fail with a bare traceback.
            LOG.debug("awscli-rotate-key: cannot load %s", module_name, exc_info=True)
            commands[name] = cannot_load(name, error, session)
    return commands


def cannot_load(name: str, error: Exception, session: Any) -> Any:
    """A command that only says it cannot be loaded, and exits 255.

    It imports nothing new: BasicCommand is loaded by the CLI's own customizations already.
    """
    from awscli.customizations.commands import BasicCommand

    line = cannot_load_line(name, error)

    class CannotLoad(BasicCommand):
        NAME = name
        DESCRIPTION = line
        SYNOPSIS = f"aws iam {name}"

        def __call__(self, args: Any, parsed_globals: Any) -> int:
            return report_cannot_load(name, error)

    return CannotLoad(session)


def cannot_load_line(name: str, error: BaseException) -> str:
    reason = " ".join(str(error).split()) or type(error).__name__
    return f"{name}: cannot load ({reason}); reinstall the plugin"


def report_cannot_load(name: str, error: BaseException) -> int:
    """For a module of the plugin that fails to import when a command runs (a partial install).

    The command modules import the core only when they run, so this is not only the stand-in's.
    """
    LOG.debug("awscli-rotate-key: cannot load a module of %s", name, exc_info=error)
    sys.stderr.write(cannot_load_line(name, error) + "\n")
    sys.stderr.flush()
    return CANNOT_RUN
