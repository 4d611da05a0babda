"""``--undo``: put back the old key that the last ``--no-delete`` rotation of a profile kept.

The old key's secret comes from the kept-keys file (kept.py). The steps are the rotation's own:
reactivate the old key (signed by the new key), prove it (two calls signed by the old key),
restore every profile that holds the new key, delete the new key (signed by the old key).
Under MFA the key-managing calls go through the MFA session of the key the files hold (the new
key), opened before any of them; deleting that key, the session's parent, is its last call.

Everything that can refuse is checked first, changing nothing (exit 3): what there is to undo
(undo_checks.py) and that the user may reactivate and delete keys. The undo is then journaled
(step UNDOING) before its first change, so a run that dies in the middle is finished by the next
one (undo_steps.py, also called by the recovery).
"""

from __future__ import annotations

from typing import Any

from awscli_rotate_key.rotate.inflight import locked_run
from awscli_rotate_key.rotate.journal import UNDOING, JournalRecord
from awscli_rotate_key.rotate.local import refused_on_local_error
from awscli_rotate_key.rotate.profiles import KeySource
from awscli_rotate_key.rotate.recovery import pending_recovery, recover, refuse_without_its_device
from awscli_rotate_key.rotate.results import Undone, UndoPlan
from awscli_rotate_key.rotate.rights import retirement_rights
from awscli_rotate_key.rotate.rotation import Options, Steps
from awscli_rotate_key.rotate.undo_checks import (
    NothingToUndo,
    Undoing,
    check_undo,
    require_undo_rights,
)
from awscli_rotate_key.rotate.undo_steps import finish_undo, put_back, undone_summary

Summary = dict[str, Any]


def undo_last_rotation(steps: Steps, source: KeySource, options: Options) -> Undone | UndoPlan:
    """Undo the last ``--no-delete`` rotation of ``source.profile``; see README, *Undo*."""
    if options.dry_run:
        return plan_undo(steps, source, options)
    with locked_run(steps, options.wait_timeout) as record:
        recovered = finish_pending(steps, record, source, options)
        if isinstance(recovered, Undone):
            return recovered  # this very undo, interrupted earlier: now finished
        undone = undo(steps, checked(steps, source, options), options.wait_timeout)
        undone.recovered = recovered
        return undone


def finish_pending(
    steps: Steps, record: JournalRecord | None, source: KeySource, options: Options
) -> Undone | Summary | None:
    """Finish whatever an earlier run left in flight, as a plain run would."""
    if record is None:
        return None
    if record.step == UNDOING and record.profile == source.profile:
        refuse_without_its_device(steps, record)
        undone = finish_undo(steps, record, options.wait_timeout)
        if undone is not None:
            undone.recovered = undone_summary(record)
            return undone
        return None
    summary, _ = recover(steps, record, options.wait_timeout)
    return summary


def checked(steps: Steps, source: KeySource, options: Options) -> Undoing:
    """What to undo, once every check passed; a kept key that can never serve is let go here,
    under the lock (the dry run makes the same checks and changes nothing)."""
    with refused_on_local_error("read or update a local file for --undo"):
        try:
            undoing = check_undo(steps, source.profile, options)
        except NothingToUndo as refusal:
            if refusal.forget:
                steps.journal.kept.drop(source.profile)
            raise
        require_undo_rights(steps, undoing.new, options.wait_timeout)
    return undoing


def undo(steps: Steps, undoing: Undoing, wait_timeout: float) -> Undone:
    """Journal the undo, then put the old key back and delete the new key."""
    kept = undoing.kept
    record = JournalRecord(
        profile=kept.profile,
        user_name=kept.user_name,
        old_key_id=kept.old.access_key_id,
        keys_before=[kept.old.access_key_id, undoing.new.access_key_id],
        delete_old_key=False,
        step=UNDOING,
        new_key_id=undoing.new.access_key_id,
        files=list(steps.files.paths()),
        # A resumed --undo without a session of this device would be denied halfway.
        mfa_device=steps.mfa.device if steps.mfa is not None else None,
    )
    with refused_on_local_error("write the journal for --undo"):
        steps.journal.save(record)
    return put_back(steps, undoing, wait_timeout)


def plan_undo(steps: Steps, source: KeySource, options: Options) -> UndoPlan:
    """What ``--undo`` would do; changes nothing (no file written, no lock taken), and the
    rights checks ask IAM about a key that cannot exist."""
    with refused_on_local_error("read a local file"):
        return _plan_undo(steps, source, options)


def _plan_undo(steps: Steps, source: KeySource, options: Options) -> UndoPlan:
    pending = steps.journal.pending()
    shown = pending_recovery(pending) if pending is not None else None
    this = isinstance(pending, JournalRecord) and pending.profile == source.profile
    if isinstance(pending, JournalRecord) and this and pending.step == UNDOING:
        # The run would finish this interrupted undo.
        old_id, new_id = pending.old_key_id, pending.new_key_id or ""
        plan = _plan(steps, pending.user_name, old_id, new_id, [old_id, new_id], shown)
        signer = steps.files.credentials_of(source.profile)
    else:
        undoing = check_undo(steps, source.profile, options)
        old_id, new_id = undoing.old.access_key_id, undoing.new.access_key_id
        plan = _plan(steps, undoing.kept.user_name, old_id, new_id, [new_id], shown)
        signer = undoing.new
    steps.open_session(signer)  # under MFA: the rights are asked through the session
    plan.retirement_rights = retirement_rights(steps, steps.managing(signer), options.wait_timeout)
    return plan


def _plan(
    steps: Steps, user: str, old_id: str, new_id: str, held: list[str], shown: Summary | None
) -> UndoPlan:
    holders = [loc for key_id in held for loc in steps.files.holding(key_id)]
    return UndoPlan(
        user,
        old_id,
        new_id,
        list(dict.fromkeys(loc.profile for loc in holders)),
        list(dict.fromkeys(steps.files.real(loc.path) for loc in holders)),
        pending_recovery=shown,
    )
