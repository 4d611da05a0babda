"""Finishing or undoing a rotation that an earlier run left in flight (crash, kill, Ctrl-C).

The state is read from reality, not trusted from the journal: which key the profile's files hold
now, and which keys the user has. The journal adds what reality cannot tell: the old key being
replaced and the keys that existed before CreateAccessKey (anything else, held by no profile,
is an orphan whose secret was lost).
"""

from __future__ import annotations

from typing import Any

from awscli_rotate_key.journal import SAVED, JournalRecord
from awscli_rotate_key.profiles import Credentials
from awscli_rotate_key.results import Rotated
from awscli_rotate_key.rotation import Steps


def pending_recovery(record: JournalRecord) -> dict[str, Any]:
    return {
        "Profile": record.profile,
        "OldAccessKeyId": record.old_key_id,
        "NewAccessKeyId": record.new_key_id,
        "Step": record.step,
    }


def recover(steps: Steps, record: JournalRecord, wait_timeout: float) -> Rotated | dict[str, Any]:
    """Finish (the files hold the new key) or undo (they hold the old one) ``record``."""
    current = steps.files.credentials_of(record.profile)
    if current.access_key_id == record.old_key_id:
        return undo_unsaved(steps, record, current)
    if current.access_key_id in record.keys_before or record.new_key_id not in (
        None,
        current.access_key_id,
    ):
        steps.reporter.warn(
            f"an interrupted rotation of profile {record.profile!r} was found, but the profile "
            f"now holds {current.access_key_id}, a key that rotation did not create; it was "
            "left alone"
        )
        steps.journal.clear()
        return {"Action": "Discarded", **pending_recovery(record)}
    return finish_saved(steps, record, current, wait_timeout)


def undo_unsaved(steps: Steps, record: JournalRecord, old: Credentials) -> dict[str, Any]:
    """The new key never reached the files: delete it if IAM has it (its secret is lost)."""
    steps.reporter.warn(
        f"undoing an interrupted rotation of profile {record.profile!r}: the old key "
        f"{record.old_key_id} is still in the files"
    )
    iam = steps.iam_for(old)
    for key in iam.list_access_keys():
        if key.access_key_id not in record.keys_before:
            # A save or an undo cut between two files left other profiles on the new key.
            steps.move_profiles(key.access_key_id, old)
    deleted = steps.delete_orphans(iam, record.keys_before)
    steps.journal.clear()
    return {
        "Action": "RolledBack",
        "OldAccessKeyId": record.old_key_id,
        "DeletedAccessKeyIds": deleted,
    }


def finish_saved(
    steps: Steps, record: JournalRecord, new: Credentials, wait_timeout: float
) -> Rotated:
    """The new key is in the files: finish moving profiles to it, then retire the old key."""
    steps.reporter.warn(
        f"finishing an interrupted rotation of profile {record.profile!r}: retiring the old key "
        f"{record.old_key_id}, the files hold {new.access_key_id}"
    )
    steps.move_profiles(record.old_key_id, new)
    record.step, record.new_key_id = SAVED, new.access_key_id
    steps.journal.save(record)
    old = steps.journal.load_rollback(record.old_key_id) or Credentials(record.old_key_id, "")
    status = steps.finish_or_undo(record, old, new, wait_timeout)
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
