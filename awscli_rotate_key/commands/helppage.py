"""The help page of our commands: the CLI's own, plus a one-line summary on its NAME line."""

from __future__ import annotations

from typing import Any

from awscli.customizations.commands import BasicDocHandler, BasicHelp


class _SummaryDocHandler(BasicDocHandler):
    def doc_title(self, help_command: Any, **kwargs: Any) -> None:
        super().doc_title(help_command, **kwargs)
        # The man page's NAME line is "<title> - <subtitle>", and docutils reads the subtitle
        # from a docinfo field right after the title; the CLI writes none, so NAME ends in "-".
        doc = help_command.doc
        doc.style.new_paragraph()
        doc.writeln(f":subtitle: {help_command.obj.SUMMARY}")
        doc.style.new_paragraph()


def help_with_summary(command: Any) -> BasicHelp:
    """What ``BasicCommand.create_help_command`` returns, with ``command.SUMMARY`` on NAME."""
    return BasicHelp(
        command._session,
        command,
        command_table={},
        arg_table=command.arg_table,
        event_handler_class=_SummaryDocHandler,
    )
