"""Facts about the AWS CLI this plugin runs in (v1 or v2) that change how it must call it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from awscli_rotate_key.rotate.profiles import Credentials

# Each CLI's own exit code for a usage error (an invalid option value): v1 exits 255 for every
# failure, v2 uses 252 for usage errors.
USAGE_EXIT_V1, USAGE_EXIT_V2 = 255, 252


def cli_major_version() -> int:
    """1 for the awscli package on PyPI, 2 for AWS CLI v2 (its installers, Debian's package)."""
    import awscli

    return int(str(awscli.__version__).split(".")[0])


def botocore_is_v2_fork() -> bool:
    """AWS CLI v2 runs its own fork of botocore (versions 2.x) with another retry config."""
    import botocore

    return str(botocore.__version__).startswith("2.")


def one_attempt() -> dict[str, Any]:
    """A retry config that sends each request exactly once, under either botocore.

    v1's botocore: ``total_max_attempts`` counts every attempt (``max_attempts`` counts retries
    only). v2's fork knows only ``max_attempts``, counts the first attempt in it and rejects
    ``total_max_attempts``.
    """
    if botocore_is_v2_fork():
        return {"max_attempts": 1}
    return {"total_max_attempts": 1}


def usage_exit_code() -> int:
    return USAGE_EXIT_V2 if cli_major_version() >= 2 else USAGE_EXIT_V1


def key_clients(
    session: Any, parsed_globals: Any, wait_timeout: float, service: str
) -> Callable[[Credentials], Any]:
    """Clients of ``service`` signed by a given key (or MFA session), from the CLI's session:
    region, endpoint (--endpoint-url), TLS and proxy settings as every ``aws`` command has.

    One attempt per call: CreateAccessKey must never be retried blindly (a second key), an MFA
    code is good once, and the core retries what is safe within --wait-timeout. A hung call
    must not carry the run far past --wait-timeout.
    """
    from awscli.customizations.utils import create_client_from_parsed_globals
    from botocore.config import Config

    timeout = max(1.0, min(10.0, wait_timeout / 4))
    config = Config(retries=one_attempt(), connect_timeout=timeout, read_timeout=timeout)

    def make(credentials: Credentials) -> Any:
        return create_client_from_parsed_globals(
            session,
            service,
            parsed_globals,
            overrides={
                "aws_access_key_id": credentials.access_key_id,
                "aws_secret_access_key": credentials.secret_access_key,
                "aws_session_token": credentials.session_token,
                "config": config,
            },
        )

    return make
