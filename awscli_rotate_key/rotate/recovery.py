"""Finishing or undoing a rotation that an earlier run left in flight (crash, kill, Ctrl-C).

Recovery is not a second copy of the rotation: it reads the journal and reality, then either
walks the rotation's own steps (steps.py) from ``save`` on, or undoes the unsaved part.

The state is read from reality, not trusted from the journal: which key the profile's files hold
now, and which keys the user has. The journal adds what reality cannot tell: the old key being
replaced and the keys that existed before CreateAccessKey (anything else, held by no profile,
is an orphan whose secret was lost).
"""

from __future__ import annotations

from typing import Any

from awscli_rotate_key.errors import IamError, PartlyDone, Refused, RolledBack
from awscli_rotate_key.rotate.journal import RETIRING, UNDOING, JournalRecord
from awscli_rotate_key.rotate.local import describe
from awscli_rotate_key.rotate.making import still_pending
from awscli_rotate_key.rotate.profiles import Credentials
from awscli_rotate_key.rotate.restart import Restart
from awscli_rotate_key.rotate.results import Rotated
from awscli_rotate_key.rotate.rotation import Steps
from awscli_rotate_key.rotate.statefiles import Unreadable
from awscli_rotate_key.rotate.steps import RESUME, resumed, walk
from awscli_rotate_key.rotate.undo_steps import recover_undo

Summary = dict[str, Any]


def pending_recovery(record: JournalRecord | Unreadable) -> Summary:
    if isinstance(record, Unreadable):  # a journal this release cannot read (dry run)
        return record.summary()
    return {
        "Profile": record.profile,
        "OldAccessKeyId": record.old_key_id,
        "NewAccessKeyId": record.new_key_id,
        "Step": record.step,
    }


def recover(
    steps: Steps, record: JournalRecord, wait_timeout: float, restart: Restart | None = None
) -> tuple[Summary, Rotated | None]:
    """Finish (the files hold the new key) or undo (they hold the old one) ``record``.

    Returns a summary for the output, and the finished rotation when there was one.
    ``restart``: the restart command to run if the journal recorded none.
    """
    if sorted(record.files) != sorted(steps.files.paths()):
        raise Refused(
            f"an interrupted rotation of profile {record.profile!r} is pending for the files "
            f"{' and '.join(record.files)}; run `aws iam rotate-my-key` with those files "
            "(AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE) to finish it. Nothing was changed"
        )
    refuse_without_its_device(steps, record)
    if record.step == UNDOING:  # an interrupted --undo: only ever finished
        return recover_undo(steps, record, wait_timeout), None
    try:
        current = steps.files.credentials_of(record.profile)
    except Refused:
        return discard(steps, record, f"profile {record.profile!r} is no longer in the files"), None
    except OSError as error:
        raise Refused(
            f"an interrupted rotation of profile {record.profile!r} is pending, but the files "
            f"cannot be read ({describe(error)}); nothing was changed. Fix that, then run "
            "`aws iam rotate-my-key` again to finish it"
        ) from None
    if current.access_key_id == record.old_key_id:
        # Under MFA: the session of the key the files hold.
        pending_session(
            steps, record, current, f"the files hold the old key {current.access_key_id}"
        )
        return undo_unsaved_or_refuse(steps, record, current), None
    if not holds_the_new_key(steps, record, current):
        reason = (
            f"profile {record.profile!r} now holds {current.access_key_id}, a key it did not make"
        )
        return discard(steps, record, reason), None
    rotated = finish_saved(steps, record, current, wait_timeout, restart)
    assert rotated.recovered is not None
    return rotated.recovered, rotated


def refuse_without_its_device(steps: Steps, record: JournalRecord) -> None:
    """A rotation begun under MFA needs a session of its device to go on: without one, every
    key action would be denied halfway. Refuse before any IAM call."""
    device = record.mfa_device
    if device is not None and steps.mfa is None:
        raise Refused(
            f"an interrupted rotation of profile {record.profile!r} needs the MFA device "
            f"{device}: run `aws iam rotate-my-key --mfa-serial {device} --token-code CODE` to "
            "finish it; nothing was changed"
        )


def pending_session(steps: Steps, record: JournalRecord, key: Credentials, state: str) -> None:
    """Under MFA, the session of ``key`` for the rotation in flight; a refusal says that the
    rotation is pending and what finishes it (a run with a code)."""
    try:
        steps.open_session(key)
    except Refused as error:
        raise Refused(
            f"an interrupted rotation of profile {record.profile!r} is pending ({state}); a "
            f"run with a valid MFA code finishes it, and this one could not use one: {error}"
        ) from None


def holds_the_new_key(steps: Steps, record: JournalRecord, current: Credentials) -> bool:
    """Whether ``current`` is the key the interrupted run created (not one put there by hand)."""
    if current.access_key_id in record.keys_before:
        return False
    if record.new_key_id is not None:
        return current.access_key_id == record.new_key_id
    # Killed between writing the files and journaling the new key's ID: it must be a key of
    # the same user, who still has the old key (retirement had not started).
    pending_session(steps, record, current, f"the files hold {current.access_key_id}")
    try:
        listed = steps.managing(current).list_access_keys()
    except IamError as error:
        if error.transient:
            raise PartlyDone(
                f"the files hold {current.access_key_id}, made by an interrupted rotation, but "
                f"IAM does not accept it yet ({error.code}); run `aws iam rotate-my-key` again "
                "in a minute to finish"
            ) from None
        return False
    return record.old_key_id in {key.access_key_id for key in listed}


def discard(steps: Steps, record: JournalRecord, reason: str) -> Summary:
    """Drop a journal that no longer matches the files, deleting its orphan key if it can."""
    steps.reporter.warn(f"an interrupted rotation was found, but {reason}; it is abandoned")
    deleted: list[str] = []
    old = steps.journal.load_rollback(record.old_key_id)
    spared = list(record.keys_before)
    if record.restarted and record.new_key_id:  # the restart command put the service on it
        steps.reporter.warn(f"its new key {record.new_key_id} is kept: {RESTARTED_ON_IT}")
        spared.append(record.new_key_id)
    if old is not None:
        try:
            steps.open_session(old)  # under MFA: never a second code (Refused at once)
            deleted = steps.delete_orphans(steps.managing(old), spared)
        except (IamError, Refused) as error:
            why = error.code if isinstance(error, IamError) else "no MFA session of the old key"
            steps.reporter.warn(f"could not look for its unsaved new key ({why})")
    try:
        steps.journal.clear()
    except OSError as error:
        raise Refused(still_pending(record, error, "no key in your files was changed")) from None
    return {"Action": "Discarded", "DeletedAccessKeyIds": deleted, **pending_recovery(record)}


def undo_unsaved_or_refuse(steps: Steps, record: JournalRecord, old: Credentials) -> Summary:
    """Undo a rotation whose files hold the old key; if the run had begun retiring it (the
    files were put back on it by hand, say), the old key may be Inactive or gone: say so."""
    try:
        return undo_unsaved(steps, record, old)
    except IamError as error:
        # InvalidClientTokenId counts as transient for a new key, never for this old one.
        if record.step != RETIRING or (error.transient and error.code != "InvalidClientTokenId"):
            raise
        new_id = record.new_key_id or "the new key"
        raise Refused(
            f"an interrupted rotation of profile {record.profile!r} had proven the new key "
            f"{new_id} and begun retiring the old key {record.old_key_id}, but the files hold "
            f"the old key again, which IAM does not accept ({error.code}: it may be Inactive or "
            f"deleted). Nothing was changed: put {new_id} back in the files, or reactivate "
            f"{record.old_key_id} (`aws iam update-access-key --access-key-id "
            f"{record.old_key_id} --status Active`, with other credentials), then run "
            "`aws iam rotate-my-key` again"
        ) from None


def undo_unsaved(steps: Steps, record: JournalRecord, old: Credentials) -> Summary:
    """The new key never reached the files: delete it if IAM has it (its secret is lost)."""
    steps.reporter.warn(
        f"undoing an interrupted rotation of profile {record.profile!r}: the old key "
        f"{record.old_key_id} is still in the files"
    )
    iam = steps.managing(old)
    keys = iam.list_access_keys()
    keep_the_key_the_service_runs_on(record, {key.access_key_id for key in keys})
    try:
        for key in keys:
            if key.access_key_id not in record.keys_before:
                # A save or an undo cut between two files left other profiles on the new key,
                # or a run stopped while moving the other key's profiles onto the old key.
                steps.move_profiles(key.access_key_id, old)
        deleted = steps.delete_orphans(iam, record.keys_before)
        steps.journal.clear()
    except OSError as error:
        state = f"the old key {record.old_key_id} is still in use"
        raise RolledBack(still_pending(record, error, state)) from None
    return {
        "Action": "RolledBack",
        "OldAccessKeyId": record.old_key_id,
        "DeletedAccessKeyIds": deleted,
    }


RESTARTED_ON_IT = "the restart command (--restart-command) put the service on it"


def keep_the_key_the_service_runs_on(record: JournalRecord, listed: set[str]) -> None:
    """Never delete the new key once the restart command put the service on it."""
    new_id = record.new_key_id
    if record.restarted and new_id in listed:
        raise Refused(
            f"an interrupted rotation of profile {record.profile!r} left the files on the old "
            f"key {record.old_key_id}, but its restart command (--restart-command) put the "
            f"service on the new key {new_id}, so that key is not deleted; nothing was "
            f"changed. Put {new_id} back in the files, or restart the service on the old key "
            f"and delete {new_id} (`aws iam delete-access-key --access-key-id {new_id}`); then "
            "run `aws iam rotate-my-key` again"
        )


def finish_saved(
    steps: Steps,
    record: JournalRecord,
    new: Credentials,
    wait_timeout: float,
    restart: Restart | None = None,
) -> Rotated:
    """The new key is in the files: walk the rotation's steps from ``save`` on.

    Under MFA the session is opened first, from the new key (a new code: the earlier run's
    session died with it).
    """
    pending_session(steps, record, new, f"the files hold the new key {new.access_key_id}")
    status = walk(steps, resumed(record, new, wait_timeout, restart), RESUME).status
    holders = steps.files.holding(new.access_key_id)
    return Rotated(
        record.user_name,
        record.old_key_id,
        new.access_key_id,
        status,
        list(dict.fromkeys(loc.profile for loc in holders)),
        list(dict.fromkeys(steps.files.real(loc.path) for loc in holders)),
        recovered={"Action": "Completed", **pending_recovery(record)},
    )
