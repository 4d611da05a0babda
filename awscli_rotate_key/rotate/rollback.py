"""Putting the old key back after a failed rotation, and the journal writes around it.

An undo goes in the order that never leaves a profile on a dead key: reactivate the old key if
it was deactivated (signed by the new key), restore the files, and only then delete the new key
(signed by the old one); under MFA both go through the run's MFA session. ``Steps`` exposes
each of these under the same name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from awscli_rotate_key.errors import IamError, PartlyDone, Refused
from awscli_rotate_key.rotate.local import describe

if TYPE_CHECKING:
    from awscli_rotate_key.rotate.journal import JournalRecord
    from awscli_rotate_key.rotate.profiles import Credentials
    from awscli_rotate_key.rotate.rotation import Steps

UNDO_BUDGET = 10.0  # seconds of retries on throttling or 5xx for each undo call


def undo(steps: Steps, old: Credentials, new: Credentials, reactivate: bool) -> str:
    """Put the old key back: reactivate it, restore the files, then delete the new key.

    Returns a note for the user if the new key could not be deleted (the journal is kept
    and the next run deletes it). Raises PartlyDone, leaving the files on the new key, when
    the old key cannot be made usable again.
    """
    if not old.secret_access_key:
        raise PartlyDone(
            f"the rotation cannot be undone: the old key {old.access_key_id}'s secret is no "
            f"longer on disk, so the files keep the new key {new.access_key_id}. Check it with "
            "`aws sts get-caller-identity`; run `aws iam rotate-my-key` again to retry"
        )
    if reactivate:
        steps.reactivate_old_key(old, new)
    steps.reporter.step("Restoring the old key in the files")
    try:
        steps.move_profiles(new.access_key_id, old)
    except (OSError, Refused) as error:
        # The new key stays: deleting it would leave profiles on a deleted key.
        raise PartlyDone(
            f"could not put the old key back in the files ({describe(error)}); they hold "
            f"the new key {new.access_key_id}, and the old key {old.access_key_id} is still "
            "Active. Fix that, then run `aws iam rotate-my-key` again to finish or undo it"
        ) from None
    steps.reporter.step(f"Deleting the new key {new.access_key_id}")
    try:
        steps.delete_new_key(old, new.access_key_id)
    except IamError as error:
        return (
            f" The new key {new.access_key_id} could not be deleted yet ({error.code}); "
            "the next run deletes it."
        )
    return steps.journal_cleared_quietly()


def reactivate_old_key(steps: Steps, old: Credentials, new: Credentials) -> None:
    """Make the deactivated old key usable again, signed by the new key, before any restore."""
    from awscli_rotate_key.rotate.rotation import ACTIVE

    iam = steps.managing(new)  # under MFA, through the session
    try:
        steps.retry(
            lambda: iam.update_access_key(old.access_key_id, ACTIVE),
            steps.monotonic() + UNDO_BUDGET,
        )
    except IamError as error:
        raise PartlyDone(
            f"the old key {old.access_key_id} is Inactive and could not be reactivated "
            f"({error.code}); the files keep the new key {new.access_key_id}, which works. "
            "Run `aws iam rotate-my-key` again to finish"
        ) from None


def delete_new_key(steps: Steps, old: Credentials, new_key_id: str) -> None:
    """Delete the new key signed by the old one (undo); a miss is left to the journal.

    Never while a profile holds it: another program may have written it back after the
    restore (as before retiring, see reread.py). Such profiles get the old key once more; if
    one still holds the new key, it is kept (IamError "StillInUse": the caller reports it as
    not deleted yet, and the journal lets the next run finish).
    """
    make_sure_no_profile_holds(steps, old, new_key_id)
    iam = steps.managing(old)  # under MFA, through the session
    try:
        steps.retry(lambda: iam.delete_access_key(new_key_id), steps.monotonic() + UNDO_BUDGET)
    except IamError as error:
        if error.code != "NoSuchEntity":
            raise


def journal_cleared_quietly(steps: Steps) -> str:
    """Clear the journal; if that fails, a note for the user (the next run clears it)."""
    try:
        steps.journal.clear()
    except OSError as error:
        return f" The journal could not be removed ({describe(error)}); the next run removes it."
    return ""


def save_journal(steps: Steps, record: JournalRecord, old: Credentials, new: Credentials) -> None:
    """Journal a step of the saved rotation; if that fails, never retire without it.

    The new key has just been proven (callers wait for it first): stop with the files on
    it (exit 5); the journal still on disk lets the next run finish.
    """
    try:
        steps.journal.save(record)
    except OSError as error:
        raise PartlyDone(
            f"the files hold the new, working key {new.access_key_id}, but the journal could "
            f"not be written ({describe(error)}), so the old key {old.access_key_id} was not "
            "retired and is still Active. Fix that, then run `aws iam rotate-my-key` again "
            "to finish"
        ) from None


def make_sure_no_profile_holds(steps: Steps, old: Credentials, new_key_id: str) -> None:
    try:
        if steps.files.holding(new_key_id):
            steps.move_profiles(new_key_id, old)
        holders = [loc.profile for loc in steps.files.holding(new_key_id)]
    except (OSError, Refused) as error:
        raise IamError("DeleteAccessKey", "StillInUse", describe(error)) from None
    if holders:
        raise IamError(
            "DeleteAccessKey", "StillInUse", f"profile {holders[0]!r} holds {new_key_id} again"
        )
