"""The steps of ``--undo`` once it is journaled, and finishing one an earlier run left in flight.

Used by undo.py (a fresh undo) and by recovery.py (any run that finds an interrupted undo), so
that neither imports the other. Until the files are restored, a failure returns to the state
before the undo: the files keep the new key and the old key is deactivated again (exit 4).

Under MFA every key-managing call goes through the MFA session of the key the files hold,
opened before the first of them (undo_checks.py for a fresh undo, ``finish_undo`` here). With
the new key's session, deleting the new key is its last call: AWS does not say whether a
session outlives its parent key, and this order is safe under either answer.
"""

from __future__ import annotations

from typing import Any, NoReturn

from awscli_rotate_key.errors import IamError, PartlyDone, Refused, RolledBack
from awscli_rotate_key.rotate.journal import JournalRecord
from awscli_rotate_key.rotate.kept import KeptKey
from awscli_rotate_key.rotate.local import describe
from awscli_rotate_key.rotate.profiles import Credentials
from awscli_rotate_key.rotate.prove import KeyNeverWorked
from awscli_rotate_key.rotate.results import Undone
from awscli_rotate_key.rotate.rotation import ACTIVE, INACTIVE, Steps
from awscli_rotate_key.rotate.undo_checks import Undoing

Summary = dict[str, Any]
_AGAIN = "Run `aws iam rotate-my-key --undo` again to finish"


def put_back(steps: Steps, undoing: Undoing, wait_timeout: float) -> Undone:
    """Reactivate and prove the old key, restore the files; then delete the new key."""
    old, new = undoing.old, undoing.new
    steps.reporter.step(f"Reactivating the old key {old.access_key_id}{_through(steps)}")
    iam = steps.managing(new)  # under MFA: the session of the new key, which stays Active
    try:
        steps.retry(
            lambda: iam.update_access_key(old.access_key_id, ACTIVE), steps.monotonic() + 10
        )
    except IamError as error:
        back_to_new_key(steps, undoing, f"the old key could not be reactivated ({error.code})")
    steps.reporter.step(f"Proving the old key {old.access_key_id} works")
    try:
        steps.wait_until_key_works(steps.iam_for(old), steps.monotonic() + wait_timeout)
    except KeyNeverWorked as error:
        back_to_new_key(steps, undoing, f"the old key did not work once reactivated ({error})")
    steps.reporter.step("Restoring the old key in the files")
    try:
        steps.move_profiles(new.access_key_id, old)
    except (OSError, Refused) as error:
        why = f"the files could not be restored ({describe(error)})"
        try:
            steps.move_profiles(old.access_key_id, new)  # any file already restored goes back
        except (OSError, Refused):
            raise PartlyDone(
                f"{why}; the old key {old.access_key_id} is Active again and some profiles may "
                f"still hold the new key {new.access_key_id}, which also works. {_AGAIN}"
            ) from None
        back_to_new_key(steps, undoing, why)
    return delete_new_key(steps, undoing.kept, old)


def back_to_new_key(steps: Steps, undoing: Undoing, why: str) -> NoReturn:
    """Before the files were restored: deactivate the old key again and stop (exit 4)."""
    note = deactivate_again(steps, undoing.old.access_key_id, undoing.new)
    try:
        steps.journal.clear()
        after = "`aws iam rotate-my-key --undo` can be tried again"
    except OSError as error:
        after = (
            f"the journal could not be removed ({describe(error)}), so the next run tries the "
            "--undo again"
        )
    raise RolledBack(
        f"--undo failed: {why}. The files keep the new key {undoing.new.access_key_id}{note}; "
        f"nothing else changed. {after[0].upper()}{after[1:]}"
    )


def deactivate_again(steps: Steps, old_key_id: str, new: Credentials) -> str:
    """Deactivate the old key, signed by the new one (under MFA through the session); returns
    how that went, for the message."""
    iam = steps.managing(new)
    try:
        steps.retry(lambda: iam.update_access_key(old_key_id, INACTIVE), steps.monotonic() + 10)
    except IamError as error:
        return (
            f"; the old key may be Active: deactivate it with `aws iam update-access-key "
            f"--access-key-id {old_key_id} --status Inactive` ({error.code})"
        )
    return ", and the old key is Inactive again"


def delete_new_key(steps: Steps, kept: KeptKey, old: Credentials) -> Undone:
    """The files hold the old key again: delete the new key, signed by the old one (under MFA
    through the session: the last call made through it)."""
    steps.reporter.step(f"Deleting the new key {kept.new_key_id}{_through(steps)}")
    try:
        steps.delete_new_key(old, kept.new_key_id)
    except IamError as error:
        raise PartlyDone(
            f"the files hold the old key {old.access_key_id} again, Active and working, but the "
            f"new key {kept.new_key_id} could not be deleted yet ({error.code}). {_AGAIN}"
        ) from None
    try:
        steps.journal.kept.drop(kept.profile)  # before the journal: a rerun finishes without it
        steps.journal.clear()
    except OSError as error:
        raise PartlyDone(
            f"the old key {old.access_key_id} is back in the files and the new key "
            f"{kept.new_key_id} was deleted, but the journal could not be removed "
            f"({describe(error)}). {_AGAIN}"
        ) from None
    steps.journal.forget_deleted([kept.new_key_id])
    return undone(steps, kept, old)


def undone(steps: Steps, kept: KeptKey, old: Credentials) -> Undone:
    try:
        holders = steps.files.holding(old.access_key_id)
        profiles = list(dict.fromkeys(loc.profile for loc in holders))
        files = list(dict.fromkeys(steps.files.real(loc.path) for loc in holders))
    except OSError:  # the undo is done; the report falls back on what it knows
        profiles, files = [kept.profile], list(kept.files)
    return Undone(kept.user_name, old.access_key_id, kept.new_key_id, profiles, files)


def finish_undo(steps: Steps, record: JournalRecord, wait_timeout: float) -> Undone | None:
    """Finish an undo an earlier run left in flight; None when it no longer matches the files."""
    old_id, new_id = record.old_key_id, record.new_key_id or ""
    current, kept = read_pending_undo(steps, record)
    if current.access_key_id in (old_id, new_id):
        steps.open_session(current)  # under MFA: a new code (the earlier run's session is gone)
    steps.reporter.warn(
        f"finishing an interrupted --undo of profile {record.profile!r}: putting back the old "
        f"key {old_id} and deleting the new key {new_id}"
    )
    if current.access_key_id == old_id:  # the files were restored, or partly
        kept = KeptKey(record.profile, record.user_name, current, new_id, record.files)
        try:
            steps.move_profiles(new_id, current)
        except (OSError, Refused) as error:
            raise PartlyDone(
                f"the interrupted --undo could not restore every file ({describe(error)}); "
                f"profile {record.profile!r} holds the old key {old_id}. Fix that, then run "
                "`aws iam rotate-my-key --undo` again to finish"
            ) from None
        return delete_new_key(steps, kept, current)
    if current.access_key_id == new_id and kept is not None and kept.old.access_key_id == old_id:
        return put_back(steps, Undoing(kept, current), wait_timeout)
    abandon_undo(steps, record, current, kept)
    return None


def read_pending_undo(steps: Steps, record: JournalRecord) -> tuple[Credentials, KeptKey | None]:
    """The profile's key in the files now, and the kept old key; Refused if they cannot be read."""
    try:
        try:
            current = steps.files.credentials_of(record.profile)
        except Refused:
            current = Credentials("(none)", "")
        return current, steps.journal.kept.get(record.profile)
    except OSError as error:
        raise Refused(
            f"an interrupted --undo of profile {record.profile!r} is pending, but the files "
            f"cannot be read ({describe(error)}); the old key {record.old_key_id} may be Active "
            f"beside the new key {record.new_key_id}, and this run changed nothing. Fix that, "
            "then run `aws iam rotate-my-key --undo` again to finish"
        ) from None


def abandon_undo(
    steps: Steps, record: JournalRecord, current: Credentials, kept: KeptKey | None
) -> None:
    """Neither can be finished: with the new key still in the files, the old key (perhaps
    reactivated already) must not stay Active beside it."""
    new_id = record.new_key_id or ""
    note = (
        deactivate_again(steps, record.old_key_id, current)
        if current.access_key_id == new_id
        else ""
    )
    state = (
        f"profile {record.profile!r} holds {current.access_key_id} and the old key's secret is "
        f"{'kept' if kept else 'no longer on disk'}{note}"
    )
    try:
        steps.journal.clear()
    except OSError as error:
        raise RolledBack(
            f"the interrupted --undo is abandoned: {state}; but its journal could not be removed "
            f"({describe(error)}). Fix that, then run `aws iam rotate-my-key` again"
        ) from None
    steps.reporter.warn(f"the interrupted --undo is abandoned: {state}")


def _through(steps: Steps) -> str:
    return " (through the MFA session)" if steps.session is not None else ""


def undone_summary(record: JournalRecord) -> Summary:
    return {
        "Action": "Undone",
        "Profile": record.profile,
        "RestoredAccessKeyId": record.old_key_id,
        "DeletedAccessKeyId": record.new_key_id,
    }


def recover_undo(steps: Steps, record: JournalRecord, wait_timeout: float) -> Summary:
    """The recovery's part: finish an interrupted undo, and say so under ``Recovered``."""
    if finish_undo(steps, record, wait_timeout) is None:
        return {**undone_summary(record), "Action": "Discarded"}
    return undone_summary(record)
