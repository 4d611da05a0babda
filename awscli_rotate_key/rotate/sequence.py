"""One whole ``rotate-my-key`` run: recover, inspect, decide, rotate."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

from awscli_rotate_key.errors import IamError, Refused, RolledBack
from awscli_rotate_key.keys import AccessKey
from awscli_rotate_key.rotate.credfile import locked, updated_text
from awscli_rotate_key.rotate.journal import SAVED, JournalRecord
from awscli_rotate_key.rotate.profiles import Credentials, KeySource
from awscli_rotate_key.rotate.recovery import pending_recovery, recover
from awscli_rotate_key.rotate.results import DryRun, NotDue, Result, Rotated
from awscli_rotate_key.rotate.rotation import ACTIVE, Iam, Options, Steps, User, age_days


@dataclass(frozen=True)
class Inspection:
    old: Credentials
    iam: Iam
    user: User
    key: AccessKey
    other: AccessKey | None


def rotate_my_key(steps: Steps, source: KeySource, options: Options) -> Result:
    """Rotate the static key behind ``source`` as ``options`` say; see README for the rules."""
    if options.dry_run:
        return plan(steps, source, options)
    with contextlib.ExitStack() as stack:
        for directory in steps.lock_directories():
            stack.enter_context(locked(directory, options.wait_timeout))
        recovered = None
        record = steps.journal.load()
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


def other_key_action(other: AccessKey | None, options: Options) -> str | None:
    if other is None:
        return None
    return "Delete" if other.status != ACTIVE or options.delete_other_key else "Refuse"


def plan(steps: Steps, source: KeySource, options: Options) -> DryRun:
    """What a run would do; no mutating call, no file written, no lock taken."""
    found = inspect(steps, source, options)
    age = age_days(found.key.create_date, steps.now())
    holders = steps.files.holding(found.old.access_key_id)
    other = None
    if found.other is not None:
        other = {
            "AccessKeyId": found.other.access_key_id,
            "Status": found.other.status,
            "Action": other_key_action(found.other, options),
        }
    record = steps.journal.load()
    return DryRun(
        user_name=found.user.name,
        access_key_id=found.old.access_key_id,
        age_days=age,
        profiles=list(dict.fromkeys(loc.profile for loc in holders)),
        files=list(dict.fromkeys(steps.files.real(loc.path) for loc in holders)),
        other_key=other,
        pending_recovery=pending_recovery(record) if record else None,
        due=options.older_than is None or age >= options.older_than,
    )


def rotate_once(steps: Steps, source: KeySource, options: Options) -> Rotated | NotDue:
    found = inspect(steps, source, options)
    age = age_days(found.key.create_date, steps.now())
    if options.older_than is not None and age < options.older_than:
        steps.reporter.step(f"{found.old.access_key_id} is {age} days old: not due")
        return NotDue(found.old.access_key_id, age, options.older_than)
    check_files_writable(steps, found.old)
    deleted_other = remove_other_key(steps, found, options)
    old = found.old
    record = JournalRecord(
        profile=source.profile,
        user_name=found.user.name,
        old_key_id=old.access_key_id,
        keys_before=[old.access_key_id],
        delete_old_key=options.delete,
        files=list(steps.files.paths()),
    )
    steps.journal.save_rollback(old)
    steps.journal.save(record)
    new = create_key(steps, found.iam, record, deleted_other)
    profiles, files = save_new_key(steps, source.profile, old, new)
    record.step, record.new_key_id = SAVED, new.access_key_id
    steps.journal.save(record)
    status = steps.finish_or_undo(record, old, new, options.wait_timeout)
    return Rotated(
        found.user.name,
        old.access_key_id,
        new.access_key_id,
        status,
        profiles,
        files,
        deleted_other_key_id=deleted_other,
    )


def check_files_writable(steps: Steps, old: Credentials) -> None:
    """Refuse before any change if a file holding the key cannot be updated faithfully."""
    probe = {"aws_access_key_id": "AKIAPROBEPROBEPROBE0", "aws_secret_access_key": "probe"}
    for loc in steps.files.holding(old.access_key_id):
        with open(loc.path, encoding="utf-8", newline="") as f:
            text = f.read()
        try:
            workdir = os.path.dirname(os.path.realpath(loc.path))
            updated_text(text, {loc.section: probe}, steps.writer, workdir)
        except Refused as error:
            raise Refused(f"{loc.path}: {error}; nothing was changed") from None


def remove_other_key(steps: Steps, found: Inspection, options: Options) -> str | None:
    """Make room under the two-key limit, or refuse when the other key is in use."""
    other = found.other
    action = other_key_action(other, options)
    if other is None or action is None:
        return None
    if action == "Refuse":
        last_used = found.iam.last_used(other.access_key_id)
        raise Refused(
            f"{found.user.name} already has two keys and the other one, {other.access_key_id}, "
            f"is Active ({age_days(other.create_date, steps.now())} days old, last used "
            f"{last_used}); nothing was changed. Deactivate it if it is unused, or run again "
            "with --delete-other-key to delete it"
        )
    steps.reporter.step(f"Deleting the other key {other.access_key_id} ({other.status})")
    found.iam.delete_access_key(other.access_key_id)
    return other.access_key_id


def create_key(
    steps: Steps, iam: Iam, record: JournalRecord, deleted_other: str | None
) -> Credentials:
    """CreateAccessKey, signed by the old key; an unanswered call leaves no orphan behind."""
    steps.reporter.step("Creating a new access key")
    try:
        return iam.create_access_key()
    except IamError as error:
        deleted = steps.delete_orphans(iam, record.keys_before) if error.transient else []
        note = f" (the unanswered new key {', '.join(deleted)} was deleted)" if deleted else ""
        if error.ambiguous and not deleted:
            # IAM may list the key later (eventual consistency): the journal lets the next
            # run look again and delete it.
            note = " (if a new key was created after all, the next run deletes it)"
        else:
            steps.journal.clear()
        if error.code == "LimitExceeded":
            also = f" (the inactive key {deleted_other} was deleted)" if deleted_other else ""
            raise Refused(
                f"IAM refused a new key ({error.code}); the old key {record.old_key_id} and "
                f"the files are unchanged{also}"
            ) from None
        raise RolledBack(
            f"could not create a new key ({error.code}){note}; the old key "
            f"{record.old_key_id} is still in use and nothing else changed"
        ) from None


def save_new_key(
    steps: Steps, profile: str, old: Credentials, new: Credentials
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
            f"could not save the new key to the files ({error}); the new key was deleted and "
            f"the old key {old.access_key_id} is still in use. Nothing else changed.{note}"
        ) from None
    return profiles, files
