"""Error types and the exit codes they map to (one place, documented in README and help)."""

EXIT_OK = 0
EXIT_REFUSED = 3
EXIT_ROLLED_BACK = 4
EXIT_PARTIAL = 5
EXIT_AUDIT_THRESHOLD = 10
EXIT_AUDIT_ACCOUNT_FAILED = 11
EXIT_ENFORCE_ACTION_FAILED = 12  # enforce-key-rotation: an action was attempted and failed
EXIT_INTERRUPTED = 130
EXIT_UNEXPECTED = 255  # the CLI's own code for a command that could not run
# An invalid option value exits with the CLI's own usage code, 255 under v1 and 252 under v2:
# awscli_rotate_key.commands.runtime.usage_exit_code() (it depends on the CLI, not the error).


class RotateKeyError(Exception):
    """Base: a failure with a one-line message for the user and an exit code."""

    exit_code = EXIT_UNEXPECTED


class Refused(RotateKeyError):
    """Refused before any change: the keys and files are as they were."""

    exit_code = EXIT_REFUSED


class RolledBack(RotateKeyError):
    """The rotation failed and was undone: the old key is still in use, nothing else changed."""

    exit_code = EXIT_ROLLED_BACK


class PartlyDone(RotateKeyError):
    """The files hold the new, working key; something is left for the next run to finish."""

    exit_code = EXIT_PARTIAL


class Interrupted(RotateKeyError):
    """Ctrl-C: the rotation was rolled back or left journaled for the next run."""

    exit_code = EXIT_INTERRUPTED


class InvalidOption(Exception):
    """An option value that cannot be used (wrong type, out of range, empty, conflicting).

    Found before any AWS call; shown as ``<command>: --<option>: <why>``.
    """

    def __init__(self, option: str, why: str) -> None:
        super().__init__(f"--{option}: {why}")
        self.option = option
        self.why = why


class IamError(Exception):
    """An IAM call failed. ``code`` is the AWS error code, or a local one for transport faults.

    ``ambiguous`` is True when the call may have taken effect without us seeing the answer
    (a timeout or a dropped connection after the request was sent).
    """

    def __init__(self, operation: str, code: str, message: str, ambiguous: bool = False) -> None:
        super().__init__(f"{operation}: {code}: {message}")
        self.operation = operation
        self.code = code
        self.message = message
        self.ambiguous = ambiguous

    @property
    def transient(self) -> bool:
        return self.code in TRANSIENT_CODES or self.ambiguous


# Codes worth retrying within the wait budget: a new key not yet seen everywhere (eventual
# consistency), throttling, server-side faults and transport faults.
TRANSIENT_CODES = frozenset(
    {
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "ServiceUnavailable",
        "ServiceFailure",
        "InternalFailure",
        "InternalError",
        "RequestTimeout",
        "ConnectionError",
        "ConnectionClosed",
        "ConnectTimeout",
        "ReadTimeout",
        "HTTP5xx",
    }
)
