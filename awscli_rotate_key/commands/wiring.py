"""Builds a rotation from the CLI's session: files, key source, IAM clients, the file writer."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from botocore.config import Config

from awscli_rotate_key.commands.iam import BotocoreIam
from awscli_rotate_key.commands.runtime import one_attempt
from awscli_rotate_key.errors import Refused
from awscli_rotate_key.rotate.journal import Journal
from awscli_rotate_key.rotate.profiles import Credentials, ProfileFiles, static_key_source
from awscli_rotate_key.rotate.results import Result
from awscli_rotate_key.rotate.rotation import Options, Reporter, Steps
from awscli_rotate_key.rotate.sequence import rotate_my_key


def _path(session: Any, variable: str, default: str) -> str:
    return os.path.abspath(os.path.expanduser(session.get_config_variable(variable) or default))


def options_from(parsed_args: Any) -> Options:
    if parsed_args.older_than is not None and parsed_args.older_than < 0:
        raise Refused("--older-than must be 0 or more days")
    if parsed_args.delete and parsed_args.no_delete:
        raise Refused("--delete and --no-delete cannot be used together")
    if parsed_args.wait_timeout is None or parsed_args.wait_timeout < 1:
        raise Refused("--wait-timeout must be at least 1 second")
    return Options(
        access_key_id=parsed_args.access_key_id,
        user_name=parsed_args.user_name,
        delete=not parsed_args.no_delete,
        delete_other_key=parsed_args.delete_other_key,
        older_than=parsed_args.older_than,
        wait_timeout=float(parsed_args.wait_timeout),
        dry_run=parsed_args.dry_run,
    )


def iam_factory(
    session: Any, parsed_globals: Any, wait_timeout: float
) -> Callable[[Credentials], BotocoreIam]:
    from awscli.customizations.utils import create_client_from_parsed_globals

    # One attempt per call: CreateAccessKey must never be retried blindly (a second key), and
    # the core retries what is safe to retry within --wait-timeout.
    # A hung call must not carry the run far past --wait-timeout.
    timeout = max(1.0, min(10.0, wait_timeout / 4))
    config = Config(retries=one_attempt(), connect_timeout=timeout, read_timeout=timeout)

    def make(credentials: Credentials) -> BotocoreIam:
        client = create_client_from_parsed_globals(
            session,
            "iam",
            parsed_globals,
            overrides={
                "aws_access_key_id": credentials.access_key_id,
                "aws_secret_access_key": credentials.secret_access_key,
                "aws_session_token": None,
                "config": config,
            },
        )
        return BotocoreIam(client)

    return make


def build_run(
    session: Any, parsed_args: Any, parsed_globals: Any, reporter: Reporter
) -> Callable[[], Result]:
    from awscli.customizations.configure.writer import ConfigFileWriter

    options = options_from(parsed_args)
    requested = session.profile or "default"
    files = ProfileFiles(
        _path(session, "credentials_file", "~/.aws/credentials"),
        _path(session, "config_file", "~/.aws/config"),
    )
    source = static_key_source(
        requested,
        session.full_config.get("profiles", {}),
        os.environ,
        profile_from_flag=parsed_globals.profile is not None,
        in_credentials_file=files.in_credentials_file(),
    )
    if source.profile != requested:
        reporter.warn(
            f"profile {requested!r} assumes a role; rotating the access key of its source "
            f"profile {source.profile!r}"
        )
    os.makedirs(os.path.dirname(files.config), mode=0o700, exist_ok=True)
    steps = Steps(
        files=files,
        journal=Journal(os.path.dirname(files.config)),
        iam_for=iam_factory(session, parsed_globals, options.wait_timeout),
        reporter=reporter,
        writer=ConfigFileWriter(),
    )
    return lambda: rotate_my_key(steps, source, options)
