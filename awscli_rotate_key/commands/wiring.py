"""Builds a rotation from the CLI's session: files, key source, IAM clients, the file writer."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from awscli_rotate_key.commands.iam import BotocoreIam
from awscli_rotate_key.commands.mfa import mfa_serial_option, mfa_sessions, token_code_option
from awscli_rotate_key.commands.options import not_together, text, whole_number
from awscli_rotate_key.commands.runtime import key_clients
from awscli_rotate_key.commands.terminal import stdin_is_a_terminal
from awscli_rotate_key.commands.undo_option import undo_requested
from awscli_rotate_key.rotate.allprofiles import AllProfiles, rotate_all_profiles
from awscli_rotate_key.rotate.allprofiles_keys import MfaCodes
from awscli_rotate_key.rotate.journal import Journal
from awscli_rotate_key.rotate.profiles import (
    Credentials,
    KeySource,
    ProfileFiles,
    static_key_source,
)
from awscli_rotate_key.rotate.results import Result
from awscli_rotate_key.rotate.rotation import Options, Reporter, Steps
from awscli_rotate_key.rotate.sequence import rotate_my_key


def _path(session: Any, variable: str, default: str) -> str:
    """The file botocore reads: ``$VAR`` then ``~`` expanded (botocore.configloader), absolute."""
    value = session.get_config_variable(variable) or default
    return os.path.abspath(os.path.expanduser(os.path.expandvars(value)))


# IAM's own patterns for the two guards (AccessKeyId, UserName in the IAM API reference).
_KEY_ID = r"\w{16,128}"
_USER_NAME = r"[\w+=,.@-]{1,64}"


def options_from(parsed_args: Any) -> Options:
    """The options of a run; InvalidOption (a usage error) for a value that cannot be used."""
    access_key_id = text(
        "access-key-id", parsed_args.access_key_id, _KEY_ID, "an access key ID (AKIA...)"
    )
    user_name = text("user-name", parsed_args.user_name, _USER_NAME, "an IAM user name")
    not_together("no-delete", "delete", parsed_args)
    older_than = whole_number("older-than", parsed_args.older_than, "days")
    wait_timeout = whole_number(
        "wait-timeout", parsed_args.wait_timeout, "seconds", minimum=1, default=60
    )
    mfa_serial_option(parsed_args), token_code_option(parsed_args)  # used by build_run
    restart_command = text("restart-command", getattr(parsed_args, "restart_command", None))
    restart_timeout = whole_number(
        "restart-timeout",
        getattr(parsed_args, "restart_timeout", None),
        "seconds",
        minimum=1,
        default=300,
    )
    return Options(
        access_key_id=access_key_id,
        user_name=user_name,
        delete=not parsed_args.no_delete,
        delete_other_key=parsed_args.delete_other_key,
        older_than=older_than,
        wait_timeout=float(wait_timeout or 60),
        dry_run=parsed_args.dry_run,
        undo=undo_requested(parsed_args),
        restart_command=restart_command,
        restart_timeout=float(restart_timeout or 300),
    )


def iam_factory(
    session: Any, parsed_globals: Any, wait_timeout: float
) -> Callable[[Credentials], BotocoreIam]:
    make = key_clients(session, parsed_globals, wait_timeout, "iam")
    return lambda credentials: BotocoreIam(make(credentials))


@dataclass(frozen=True)
class Run:
    """A rotation ready to run."""

    steps: Steps
    source: KeySource
    options: Options

    def __call__(self) -> Result:
        return rotate_my_key(self.steps, self.source, self.options)

    def journaled(self) -> bool:
        """A rotation is in flight (its journal exists): the next run finishes or undoes it."""
        return os.path.exists(self.steps.journal.path)


def build_run(session: Any, parsed_args: Any, parsed_globals: Any, reporter: Reporter) -> Run:
    options = options_from(parsed_args)
    requested = session.profile or "default"
    files = profile_files(session)
    # botocore uses the last of two headers naming one profile; our file reads would take the
    # first (someone else's key): refuse, for the profile asked for and its whole chain.
    files.refuse_duplicate_headers([requested])
    source = static_key_source(
        requested,
        session.full_config.get("profiles", {}),
        os.environ,
        profile_from_flag=parsed_globals.profile is not None,
        in_credentials_file=files.in_credentials_file(),
    )
    files.refuse_duplicate_headers(source.chain)
    files.refuse_unusable_key(source.profile)
    if source.profile != requested:
        reporter.warn(
            f"profile {requested!r} assumes a role; rotating the access key of its source "
            f"profile {source.profile!r}"
        )
    steps = run_steps(session, parsed_globals, files, reporter, options)
    steps.mfa = mfa_sessions(  # commands/mfa.py: when a device is found
        session, parsed_args, parsed_globals, source, options.wait_timeout, stdin_is_a_terminal()
    )
    return Run(steps, source, options)


def profile_files(session: Any) -> ProfileFiles:
    return ProfileFiles(
        _path(session, "credentials_file", "~/.aws/credentials"),
        _path(session, "config_file", "~/.aws/config"),
    )


def run_steps(
    session: Any, parsed_globals: Any, files: ProfileFiles, reporter: Reporter, options: Options
) -> Steps:
    from awscli.customizations.configure.writer import ConfigFileWriter

    os.makedirs(os.path.dirname(files.config), mode=0o700, exist_ok=True)
    return Steps(
        files=files,
        journal=Journal(os.path.dirname(files.config)),
        iam_for=iam_factory(session, parsed_globals, options.wait_timeout),
        reporter=reporter,
        writer=ConfigFileWriter(),
    )


@dataclass(frozen=True)
class AllProfilesRun:
    """``--all-profiles``: every key of the files, each through the normal rotation."""

    steps: Steps
    options: Options
    terminal: bool  # stdin is a terminal: an MFA code may be asked for
    codes: MfaCodes

    def __call__(self) -> AllProfiles:
        return rotate_all_profiles(
            self.steps, self.options, rotate_my_key, self.terminal, self.codes
        )

    def journaled(self) -> bool:
        return os.path.exists(self.steps.journal.path)


def build_any_run(
    session: Any, parsed_args: Any, parsed_globals: Any, reporter: Reporter, terminal: bool
) -> Run | AllProfilesRun:
    """The run the arguments ask for: one profile's key, or with --all-profiles every key."""
    if not getattr(parsed_args, "all_profiles", False):
        return build_run(session, parsed_args, parsed_globals, reporter)
    for other in _NOT_WITH_ALL_PROFILES:
        not_together("all-profiles", other, parsed_args)
    options = options_from(parsed_args)
    codes = all_profiles_codes(session, parsed_args, parsed_globals, options.wait_timeout, terminal)
    steps = run_steps(session, parsed_globals, profile_files(session), reporter, options)
    return AllProfilesRun(steps, options, terminal, codes)


def all_profiles_codes(
    session: Any, parsed_args: Any, parsed_globals: Any, wait_timeout: float, terminal: bool
) -> MfaCodes:
    """One MFA session per device for the whole run (a code works once): commands/mfa.py."""
    from awscli_rotate_key.commands.mfa import code_source, sts_factory
    from awscli_rotate_key.rotate.mfa import MfaSession, session_seconds

    token_code = token_code_option(parsed_args)
    sts_for = sts_factory(session, parsed_globals, wait_timeout)

    def sessions_for(device: str, with_code: bool) -> MfaSession:
        codes = code_source(token_code if with_code else None, terminal)
        return MfaSession(device, codes, sts_for, session_seconds(wait_timeout))

    return MfaCodes(sessions_for, mfa_serial_option(parsed_args), token_code is not None)


# The guards name one profile's key, and --undo undoes one profile's rotation.
_NOT_WITH_ALL_PROFILES = ("access-key-id", "user-name", "undo")
