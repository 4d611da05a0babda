"""Facts about the AWS CLI this plugin runs in (v1 or v2) that change how it must call it."""

from __future__ import annotations

from typing import Any

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
