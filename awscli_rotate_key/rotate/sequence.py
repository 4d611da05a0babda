"""One whole ``rotate-my-key`` run: recover what an earlier run left, then rotate.

The rotation is the list of steps in steps.py, walked from its first step here and from the
step the journal shows by the recovery (recovery.py).
"""

from __future__ import annotations

from typing import Any

from awscli_rotate_key.errors import Refused
from awscli_rotate_key.rotate.inflight import locked_run
from awscli_rotate_key.rotate.journal import JournalRecord
from awscli_rotate_key.rotate.local import refused_on_local_error
from awscli_rotate_key.rotate.making import inspect, open_mfa_session, read_key
from awscli_rotate_key.rotate.mfa import SecondCodeNeeded, cover_restarts
from awscli_rotate_key.rotate.otherkey import other_key_plan
from awscli_rotate_key.rotate.profiles import KeySource
from awscli_rotate_key.rotate.recovery import pending_recovery, recover
from awscli_rotate_key.rotate.restart import DEFAULT_TIMEOUT, Restart
from awscli_rotate_key.rotate.results import DryRun, NotDue, Result, Rotated
from awscli_rotate_key.rotate.rights import retirement_rights
from awscli_rotate_key.rotate.rotation import Options, Steps, age_days
from awscli_rotate_key.rotate.steps import Rotation, fresh, walk
from awscli_rotate_key.rotate.undo import undo_last_rotation


def rotate_my_key(steps: Steps, source: KeySource, options: Options) -> Result:
    """Rotate the static key behind ``source`` as ``options`` say; see README for the rules."""
    if options.undo:
        return undo_last_rotation(steps, source, options)
    if options.dry_run:
        return plan(steps, source, options)
    with locked_run(steps, options.wait_timeout) as record:
        session_for_the_restarts(steps, options, record)
        recovered = None
        if record is not None:
            # A rotation of this very profile restarts with this run's command if it recorded none.
            command = options.restart_command if record.profile == source.profile else None
            restart = Restart(command, options.restart_timeout) if command else None
            recovered, finished = recover(steps, record, options.wait_timeout, restart)
            if finished is not None and record.profile == source.profile:
                return finished  # the rotation this run was asked for, finished
        try:
            result = rotate_once(steps, source, options)
        except SecondCodeNeeded as error:
            if recovered is None:
                raise
            raise Refused(after_recovery(recovered, source.profile, error)) from None
        result.recovered = recovered
        return result


_RECOVERED = {
    "Completed": "finished the interrupted rotation",
    "RolledBack": "rolled back the interrupted rotation",
    "Discarded": "abandoned the interrupted rotation",
    "Undone": "finished the interrupted --undo",
}


def after_recovery(recovered: dict[str, Any], profile: str, error: SecondCodeNeeded) -> str:
    """The message when the run's one MFA code went to finishing what an earlier run left."""
    what = _RECOVERED.get(str(recovered.get("Action")), "handled the interrupted run")
    return (
        f"{what} of profile {recovered.get('Profile', profile)!r} with this run's MFA session; "
        f"rotating profile {profile!r} needs a session of another key ({error}). Nothing else "
        "was changed: run `aws iam rotate-my-key --token-code CODE` again with a new code"
    )


def session_for_the_restarts(steps: Steps, options: Options, record: JournalRecord | None) -> None:
    """Under MFA, the run's one session must last through this run's restart command and the
    one a rotation in flight recorded (the session is opened later, by the first step needing
    it)."""
    restarts = [options.restart_timeout] if options.restart_command else []
    if record is not None and record.restart_command:
        restarts.append(record.restart_timeout or DEFAULT_TIMEOUT)
    cover_restarts(steps.mfa, options.wait_timeout, *restarts)


def plan(steps: Steps, source: KeySource, options: Options) -> DryRun:
    """What a run would do; changes nothing: no file written, no lock taken, and the rights
    checks ask IAM about a key that cannot exist."""
    with refused_on_local_error("read a local file"):
        return dry_run(steps, source, options)


def dry_run(steps: Steps, source: KeySource, options: Options) -> DryRun:
    found = Rotation(source.profile, options)
    read_key(steps, found)
    open_mfa_session(steps, found)
    inspect(steps, found)
    assert found.user is not None and found.key is not None
    age = age_days(found.key.create_date, steps.now())
    holders = steps.files.holding(found.old_key.access_key_id)
    record = steps.journal.pending()  # a journal it cannot read is shown, not fatal
    return DryRun(
        user_name=found.user.name,
        access_key_id=found.old_key.access_key_id,
        age_days=age,
        profiles=list(dict.fromkeys(loc.profile for loc in holders)),
        files=list(dict.fromkeys(steps.files.real(loc.path) for loc in holders)),
        other_key=other_key_plan(steps, found.other, options),
        pending_recovery=pending_recovery(record) if record else None,
        due=options.older_than is None or age >= options.older_than,
        retirement_rights=retirement_rights(steps, found.managing, options.wait_timeout),
    )


def rotate_once(steps: Steps, source: KeySource, options: Options) -> Rotated | NotDue:
    """A fresh rotation: every step, from the first."""
    done = walk(steps, fresh(source.profile, options))
    if done.not_due is not None:
        return done.not_due
    assert done.user is not None
    return Rotated(
        done.user.name,
        done.old_key.access_key_id,
        done.new_key.access_key_id,
        done.status,
        done.profiles,
        done.files,
        deleted_other_key_id=done.deleted_other,
    )
