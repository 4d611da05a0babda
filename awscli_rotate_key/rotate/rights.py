"""Whether the caller may retire a key, asked before any key is created, in a way that changes
nothing.

IAM authorizes a call before it looks its key up: UpdateAccessKey and DeleteAccessKey on a key ID
that cannot exist answer AccessDenied when the policy lacks the right and NoSuchEntity when it
has it. Without these rights a rotation would end with two Active keys (the old one cannot be
retired) or an undo that cannot delete the new key, so both are required: ``--no-delete`` too,
because every undo deletes the new key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from awscli_rotate_key.errors import IamError, Refused

if TYPE_CHECKING:
    from awscli_rotate_key.rotate.rotation import Iam, Steps

# "0" never appears in a real access key ID (base32), so this key can belong to no one.
PROBE_KEY_ID = "AKIA0ROTATEMYKEYCHECK"
ALLOWED, DENIED = "Allowed", "Denied"
RIGHTS_BUDGET = 10.0  # seconds of retries on throttling or 5xx before the answer is "Unknown"
_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException"})


def retirement_rights(steps: Steps, iam: Iam, wait_timeout: float) -> dict[str, str]:
    """{"UpdateAccessKey": ..., "DeleteAccessKey": ...}: "Allowed", "Denied" or "Unknown (Code)"."""
    from awscli_rotate_key.rotate.rotation import ACTIVE

    deadline = steps.monotonic() + min(RIGHTS_BUDGET, wait_timeout)
    asks: dict[str, Callable[[], None]] = {
        "UpdateAccessKey": lambda: iam.update_access_key(PROBE_KEY_ID, ACTIVE),
        "DeleteAccessKey": lambda: iam.delete_access_key(PROBE_KEY_ID),
    }
    steps.reporter.step("Checking that your policy allows retiring a key (changes nothing)")
    return {action: _answer(steps, ask, deadline) for action, ask in asks.items()}


def _answer(steps: Steps, ask: Callable[[], None], deadline: float) -> str:
    try:
        steps.retry(ask, deadline)  # transient answers (throttling, 5xx) are asked again
    except IamError as error:
        if error.code == "NoSuchEntity":
            return ALLOWED
        if error.code in _DENIED_CODES:
            return DENIED
        return f"Unknown ({error.code})"
    return ALLOWED  # no key has this ID: a success can only mean the right is there


def require_retirement_rights(
    steps: Steps,
    iam: Iam,
    wait_timeout: float,
    without: str = "without it the old key could not be retired, so no new key was created",
    again: str = "aws iam rotate-my-key",
) -> None:
    """Refuse (exit 3) before any change unless both retirement rights are known to be there.

    ``without``: what would go wrong without them; ``again``: the command to run later.
    """
    rights = retirement_rights(steps, iam, wait_timeout)
    denied = [f"iam:{action}" for action, answer in rights.items() if answer == DENIED]
    if denied:
        raise Refused(
            f"your IAM policy does not allow {' or '.join(denied)} (IAM answered AccessDenied to "
            f"a check that changes nothing); {without} and nothing was changed. Ask for "
            "iam:UpdateAccessKey and iam:DeleteAccessKey on your own user (README: Minimal IAM "
            "policy)"
        )
    unknown = [f"iam:{a}: {answer}" for a, answer in rights.items() if answer != ALLOWED]
    if unknown:
        raise Refused(
            f"could not check that your IAM policy allows retiring a key ({'; '.join(unknown)});"
            f" nothing was changed. Run `{again}` again later"
        )
