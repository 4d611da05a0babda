"""The steps up to a new key saved in the files and journaled (steps.py gives their order).

Until the new key is in the files every failure undoes what this run did (exit 3 or 4): the
journal (step CREATING) lets the next run delete a key whose answer was lost. A resumed run
enters at ``save`` with the files already on the new key.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from awscli_rotate_key.errors import IamError, PartlyDone, Refused, RolledBack
from awscli_rotate_key.rotate.credfile import updated_text
from awscli_rotate_key.rotate.filechecks import other_name, try_rename_in, why_not_writable
from awscli_rotate_key.rotate.journal import RETIRING, SAVED, JournalRecord
from awscli_rotate_key.rotate.local import describe
from awscli_rotate_key.rotate.otherkey import (
    NOTHING_ELSE,
    make_room,
    other_key_action,
    refuse_an_other_key_in_use,
)
from awscli_rotate_key.rotate.profiles import Credentials
from awscli_rotate_key.rotate.results import NotDue
from awscli_rotate_key.rotate.retiring import wait_for_new_key
from awscli_rotate_key.rotate.rights import require_retirement_rights
from awscli_rotate_key.rotate.rotation import age_days

if TYPE_CHECKING:
    from awscli_rotate_key.rotate.rotation import Steps
    from awscli_rotate_key.rotate.steps import Rotation


def read_key(steps: Steps, r: Rotation) -> None:
    """The key the profile's files hold now; refuse unless it is the one --access-key-id names."""
    old = steps.files.credentials_of(r.profile)
    wanted = r.options.access_key_id
    if wanted and wanted != old.access_key_id:
        raise Refused(
            f"profile {r.profile!r} uses {old.access_key_id}, not {wanted} "
            "(--access-key-id); nothing was changed"
        )
    r.old = old


def open_mfa_session(steps: Steps, r: Rotation) -> None:
    """Under MFA, the one session of this run, from the key the profile holds now: it signs
    every call that manages keys (ListAccessKeys included), so even a key not due needs a code.
    """
    steps.open_session(r.old_key)


def inspect(steps: Steps, r: Rotation) -> None:
    """Find the key's user and the other key; apply the guards."""
    old = r.old_key
    iam = r.iam = steps.managing(old)
    user = r.user = iam.get_user()
    if user.is_root:
        raise Refused(
            "this is the AWS account root user's access key; root keys should be deleted, not "
            "rotated (use an IAM user or role instead). Nothing was changed"
        )
    if r.options.user_name and r.options.user_name != user.name:
        raise Refused(
            f"the key of profile {r.profile!r} belongs to IAM user {user.name!r}, not "
            f"{r.options.user_name!r} (--user-name); nothing was changed"
        )
    keys = iam.list_access_keys()
    mine = [k for k in keys if k.access_key_id == old.access_key_id]
    if not mine:
        raise Refused(f"{old.access_key_id} is not among the keys of {user.name}; nothing changed")
    others = [k for k in keys if k.access_key_id != old.access_key_id]
    r.key, r.other = mine[0], (others[0] if others else None)


def due(steps: Steps, r: Rotation) -> None:
    """--older-than: a key younger than that ends the run here (exit 0, nothing changed)."""
    assert r.key is not None
    age = age_days(r.key.create_date, steps.now())
    older_than = r.options.older_than
    if older_than is not None and age < older_than:
        steps.reporter.step(f"{r.old_key.access_key_id} is {age} days old: not due")
        r.not_due = NotDue(r.old_key.access_key_id, age, older_than)


def check_before_any_change(steps: Steps, r: Rotation) -> None:
    """Every refusal that can be known before a change: files, the other key, IAM rights."""
    assert r.user is not None
    check_files_writable(steps, r.old_key)
    other, options = r.other, r.options
    if other is not None and other_key_action(other, options) == "Delete":
        check_files_writable(steps, Credentials(other.access_key_id, ""))  # its profiles move
    refuse_an_other_key_in_use(steps, r.managing, r.user.name, other, options)
    require_retirement_rights(steps, r.managing, options.wait_timeout)


def check_files_writable(steps: Steps, old: Credentials) -> None:
    """Refuse before any change if a file holding the key cannot be updated faithfully.

    Each file is probed the way the write will use it (a file created and renamed in its
    directory; the file itself replaceable and its only name), and so is the journal's directory.
    """
    probe = {"aws_access_key_id": "AKIAPROBEPROBEPROBE0", "aws_secret_access_key": "probe"}
    for loc in steps.files.holding(old.access_key_id):
        real = os.path.realpath(loc.path)
        why = other_name(real) or why_not_writable(real)
        if why is not None:
            raise Refused(f"{loc.path}: {why}; nothing was changed")
        with open(loc.path, encoding="utf-8", newline="") as f:
            text = f.read()
        try:
            updated_text(text, {loc.section: probe}, steps.writer, os.path.dirname(real))
        except Refused as error:
            raise Refused(f"{loc.path}: {error}; nothing was changed") from None
    failed = try_rename_in(steps.journal.directory)
    if failed is not None:
        raise Refused(
            f"{steps.journal.directory}: cannot write the rotation journal there "
            f"({failed.strerror or failed}); nothing was changed"
        )


def start_journal(steps: Steps, r: Rotation) -> None:
    """Journal the rotation (step CREATING) and keep the old secret, before any change."""
    assert r.user is not None
    old = r.old_key
    r.record = JournalRecord(
        profile=r.profile,
        user_name=r.user.name,
        old_key_id=old.access_key_id,
        # Not the other key: it is deleted below, and so by the next run if this one stops.
        keys_before=[old.access_key_id],
        delete_old_key=r.options.delete,
        files=list(steps.files.paths()),
        # A run that finishes this one needs a session of the same device (a new code).
        mfa_device=steps.mfa.device if steps.mfa is not None else None,
    )
    if r.restart is not None:  # the next run restarts with it if this one stops before retiring
        r.record.restart_command, r.record.restart_timeout = r.restart.command, r.restart.timeout
    try:
        steps.journal.save_rollback(old)
        steps.journal.save(r.record)
    except OSError as error:
        note = steps.journal_cleared_quietly()
        raise Refused(
            f"could not write the rotation journal ({describe(error)}); nothing was changed.{note}"
        ) from None


def make_room_for_new_key(steps: Steps, r: Rotation) -> None:
    """The two-key limit: delete the other key (Inactive, or --delete-other-key) first."""
    other = r.other
    if other is not None and other_key_action(other, r.options) == "Delete":
        r.changed = make_room(steps, r.managing, r.old_key, other)
        r.deleted_other = other.access_key_id


def create_key(steps: Steps, r: Rotation) -> None:
    """CreateAccessKey, signed by the old key; an unanswered call leaves no orphan behind."""
    record, changed, iam = r.journaled, r.changed, r.managing
    steps.reporter.step("Creating a new access key")
    try:
        r.new = iam.create_access_key()
        return
    except IamError as error:
        deleted = steps.delete_orphans(iam, record.keys_before) if error.transient else []
        note = f" (the unanswered new key {', '.join(deleted)} was deleted)" if deleted else ""
        cleared = ""
        if error.ambiguous and not deleted:
            # IAM may list the key later (eventual consistency): the journal lets the next
            # run look again and delete it.
            note = " (if a new key was created after all, the next run deletes it)"
        else:
            cleared = steps.journal_cleared_quietly()
        if error.code == "LimitExceeded":
            state = "and the files are unchanged." if not changed else f"is in use. {changed}"
            raise Refused(
                f"IAM refused a new key ({error.code}); the old key {record.old_key_id} "
                f"{state}{cleared}"
            ) from None
        raise RolledBack(
            f"could not create a new key ({error.code}){note}; the old key "
            f"{record.old_key_id} is still in use. {changed or NOTHING_ELSE}{cleared}"
        ) from None


def save_new_key(steps: Steps, r: Rotation) -> None:
    """Move the profiles to the new key; if the profile in use did not get it, undo (exit 4).

    Resumed: the files hold the new key already; profiles left on the old key move too.
    """
    old, new = r.old_key, r.new_key
    if r.resumed:
        finish_saving(steps, r)
        return
    steps.reporter.step(f"Saving the new key {new.access_key_id} to the profile files")
    try:
        r.profiles, r.files = steps.move_profiles(old.access_key_id, new)
        if r.profile not in r.profiles:
            raise Refused(f"profile {r.profile!r} no longer holds {old.access_key_id}")
    except (OSError, Refused) as error:
        note = steps.undo(old, new, reactivate=False)
        raise RolledBack(
            f"could not save the new key to the files ({describe(error)}); the new key was "
            "deleted and "
            f"the old key {old.access_key_id} is still in use. {r.changed or NOTHING_ELSE}{note}"
        ) from None


def finish_saving(steps: Steps, r: Rotation) -> None:
    record, new = r.journaled, r.new_key
    steps.reporter.warn(
        f"finishing an interrupted rotation of profile {record.profile!r}: retiring the old key "
        f"{record.old_key_id}, the files hold {new.access_key_id}"
    )
    try:
        steps.move_profiles(record.old_key_id, new)
    except OSError as error:
        raise PartlyDone(still_pending(record, error, holds_new(record, new))) from None


def journal_saved_key(steps: Steps, r: Rotation) -> None:
    """Journal that the files hold the new key (step SAVED; a resumed RETIRING stays so)."""
    record, new = r.journaled, r.new_key
    if record.step != RETIRING:
        record.step = SAVED
    record.new_key_id = new.access_key_id
    if r.resumed:
        try:
            steps.journal.save(record)
            r.old = steps.journal.load_rollback(record.old_key_id) or r.old
        except OSError as error:
            raise PartlyDone(still_pending(record, error, holds_new(record, new))) from None
        return
    journal_the_saved_key(steps, r)


def journal_the_saved_key(steps: Steps, r: Rotation) -> None:
    """Journal that the files hold the new key; if that fails, prove the key, then try again.

    Never retire without the journal: if it still cannot be written, stop with the files on
    the new, working key (exit 5); if the new key does not work, undo (exit 4).
    """
    record, old, new = r.journaled, r.old_key, r.new_key
    try:
        steps.journal.save(record)
        return
    except OSError as error:
        why = describe(error)
    deadline = steps.monotonic() + r.options.wait_timeout
    try:
        wait_for_new_key(steps, steps.iam_for(new), deadline, r)
    except RolledBack as error:
        raise RolledBack(f"could not write the rotation journal ({why}), and {error}") from None
    steps.save_journal(record, old, new)


def holds_new(record: JournalRecord, new: Credentials) -> str:
    return f"profile {record.profile!r} holds the new key {new.access_key_id}"


def still_pending(record: JournalRecord, error: OSError, state: str) -> str:
    """A resumed rotation stopped by a local error: it stays journaled for the next run."""
    return (
        f"could not finish the interrupted rotation of profile {record.profile!r} "
        f"({describe(error)}); {state}, and the rotation stays journaled. Fix that, then run "
        "`aws iam rotate-my-key` again"
    )
