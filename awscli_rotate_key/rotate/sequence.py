"""One whole ``rotate-my-key`` run: recover, inspect, decide, rotate."""

from __future__ import annotations

import os
from dataclasses import dataclass

from awscli_rotate_key.errors import IamError, Refused, RolledBack
from awscli_rotate_key.keys import AccessKey
from awscli_rotate_key.rotate.credfile import updated_text
from awscli_rotate_key.rotate.filechecks import other_name, try_rename_in, why_not_writable
from awscli_rotate_key.rotate.inflight import locked_run
from awscli_rotate_key.rotate.journal import SAVED, JournalRecord
from awscli_rotate_key.rotate.local import describe, refused_on_local_error
from awscli_rotate_key.rotate.otherkey import (
    NOTHING_ELSE,
    make_room,
    other_key_action,
    other_key_plan,
    refuse_an_other_key_in_use,
)
from awscli_rotate_key.rotate.profiles import Credentials, KeySource
from awscli_rotate_key.rotate.recovery import pending_recovery, recover
from awscli_rotate_key.rotate.results import DryRun, NotDue, Result, Rotated
from awscli_rotate_key.rotate.rights import require_retirement_rights, retirement_rights
from awscli_rotate_key.rotate.rotation import Iam, Options, Steps, User, age_days
from awscli_rotate_key.rotate.undo import undo_last_rotation


@dataclass(frozen=True)
class Inspection:
    old: Credentials
    iam: Iam
    user: User
    key: AccessKey
    other: AccessKey | None


def rotate_my_key(steps: Steps, source: KeySource, options: Options) -> Result:
    """Rotate the static key behind ``source`` as ``options`` say; see README for the rules."""
    if options.undo:
        return undo_last_rotation(steps, source, options)
    if options.dry_run:
        return plan(steps, source, options)
    with locked_run(steps, options.wait_timeout) as record:
        recovered = None
        if record is not None:
            recovered, finished = recover(steps, record, options.wait_timeout)
            if finished is not None and record.profile == source.profile:
                return finished  # the rotation this run was asked for, finished
        result = rotate_once(steps, source, options)
        result.recovered = recovered
        return result


def inspect(steps: Steps, source: KeySource, options: Options) -> Inspection:
    """Read the key from the files, find its user and the other key; apply the guards."""
    old = steps.files.credentials_of(source.profile)
    if options.access_key_id and options.access_key_id != old.access_key_id:
        raise Refused(
            f"profile {source.profile!r} uses {old.access_key_id}, not {options.access_key_id} "
            "(--access-key-id); nothing was changed"
        )
    iam = steps.iam_for(old)
    user = iam.get_user()
    if user.is_root:
        raise Refused(
            "this is the AWS account root user's access key; root keys should be deleted, not "
            "rotated (use an IAM user or role instead). Nothing was changed"
        )
    if options.user_name and options.user_name != user.name:
        raise Refused(
            f"the key of profile {source.profile!r} belongs to IAM user {user.name!r}, not "
            f"{options.user_name!r} (--user-name); nothing was changed"
        )
    keys = iam.list_access_keys()
    mine = [k for k in keys if k.access_key_id == old.access_key_id]
    if not mine:
        raise Refused(f"{old.access_key_id} is not among the keys of {user.name}; nothing changed")
    others = [k for k in keys if k.access_key_id != old.access_key_id]
    return Inspection(old, iam, user, mine[0], others[0] if others else None)


def plan(steps: Steps, source: KeySource, options: Options) -> DryRun:
    """What a run would do; changes nothing: no file written, no lock taken, and the rights
    checks ask IAM about a key that cannot exist."""
    with refused_on_local_error("read a local file"):
        return dry_run(steps, source, options)


def dry_run(steps: Steps, source: KeySource, options: Options) -> DryRun:
    found = inspect(steps, source, options)
    age = age_days(found.key.create_date, steps.now())
    holders = steps.files.holding(found.old.access_key_id)
    record = steps.journal.pending()  # a journal it cannot read is shown, not fatal
    return DryRun(
        user_name=found.user.name,
        access_key_id=found.old.access_key_id,
        age_days=age,
        profiles=list(dict.fromkeys(loc.profile for loc in holders)),
        files=list(dict.fromkeys(steps.files.real(loc.path) for loc in holders)),
        other_key=other_key_plan(steps, found.other, options),
        pending_recovery=pending_recovery(record) if record else None,
        due=options.older_than is None or age >= options.older_than,
        retirement_rights=retirement_rights(steps, found.iam, options.wait_timeout),
    )


def rotate_once(steps: Steps, source: KeySource, options: Options) -> Rotated | NotDue:
    with refused_on_local_error("read or check a local file"):
        found = inspect(steps, source, options)
        age = age_days(found.key.create_date, steps.now())
        if options.older_than is not None and age < options.older_than:
            steps.reporter.step(f"{found.old.access_key_id} is {age} days old: not due")
            return NotDue(found.old.access_key_id, age, options.older_than)
        check_before_any_change(steps, found, options)
    old = found.old
    record = JournalRecord(
        profile=source.profile,
        user_name=found.user.name,
        old_key_id=old.access_key_id,
        # Not the other key: it is deleted below, and so by the next run if this one stops.
        keys_before=[old.access_key_id],
        delete_old_key=options.delete,
        files=list(steps.files.paths()),
    )
    start_journal(steps, record, old)
    deleted_other, changed = None, ""  # ``changed``: told by every failure from here on
    if found.other is not None and other_key_action(found.other, options) == "Delete":
        changed = make_room(steps, found.iam, old, found.other)
        deleted_other = found.other.access_key_id
    new = create_key(steps, found.iam, record, changed)
    profiles, files = save_new_key(steps, source.profile, old, new, changed)
    record.step, record.new_key_id = SAVED, new.access_key_id
    journal_the_saved_key(steps, record, old, new, options.wait_timeout, changed)
    status = steps.finish_or_undo(record, old, new, options.wait_timeout, changed)
    return Rotated(
        found.user.name,
        old.access_key_id,
        new.access_key_id,
        status,
        profiles,
        files,
        deleted_other_key_id=deleted_other,
    )


def check_before_any_change(steps: Steps, found: Inspection, options: Options) -> None:
    """Every refusal that can be known before a change: files, the other key, IAM rights."""
    check_files_writable(steps, found.old)
    other = found.other
    if other is not None and other_key_action(other, options) == "Delete":
        check_files_writable(steps, Credentials(other.access_key_id, ""))  # its profiles move
    refuse_an_other_key_in_use(steps, found.iam, found.user.name, other, options)
    require_retirement_rights(steps, found.iam, options.wait_timeout)


def start_journal(steps: Steps, record: JournalRecord, old: Credentials) -> None:
    try:
        steps.journal.save_rollback(old)
        steps.journal.save(record)
    except OSError as error:
        note = steps.journal_cleared_quietly()
        raise Refused(
            f"could not write the rotation journal ({describe(error)}); nothing was changed.{note}"
        ) from None


def journal_the_saved_key(
    steps: Steps,
    record: JournalRecord,
    old: Credentials,
    new: Credentials,
    wait_timeout: float,
    changed: str = "",
) -> None:
    """Journal that the files hold the new key; if that fails, prove the key, then try again.

    Never retire without the journal: if it still cannot be written, stop with the files on
    the new, working key (exit 5); if the new key does not work, undo (exit 4).
    """
    try:
        steps.journal.save(record)
        return
    except OSError as error:
        why = describe(error)
    try:
        steps.wait_for_new_key(
            steps.iam_for(new), steps.monotonic() + wait_timeout, record, old, new, changed
        )
    except RolledBack as error:
        raise RolledBack(f"could not write the rotation journal ({why}), and {error}") from None
    steps.save_journal(record, old, new)


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


def create_key(steps: Steps, iam: Iam, record: JournalRecord, changed: str) -> Credentials:
    """CreateAccessKey, signed by the old key; an unanswered call leaves no orphan behind.

    ``changed``: what making room for the key changed (otherkey.make_room), or "".
    """
    steps.reporter.step("Creating a new access key")
    try:
        return iam.create_access_key()
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


def save_new_key(
    steps: Steps, profile: str, old: Credentials, new: Credentials, changed: str = ""
) -> tuple[list[str], list[str]]:
    """Move the profiles to the new key; if the profile in use did not get it, undo (exit 4)."""
    steps.reporter.step(f"Saving the new key {new.access_key_id} to the profile files")
    try:
        profiles, files = steps.move_profiles(old.access_key_id, new)
        if profile not in profiles:
            raise Refused(f"profile {profile!r} no longer holds {old.access_key_id}")
    except (OSError, Refused) as error:
        note = steps.undo(old, new, reactivate=False)
        raise RolledBack(
            f"could not save the new key to the files ({describe(error)}); the new key was "
            "deleted and "
            f"the old key {old.access_key_id} is still in use. {changed or NOTHING_ELSE}{note}"
        ) from None
    return profiles, files
