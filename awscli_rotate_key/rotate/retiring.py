"""The steps from a saved new key to a retired old key (steps.py gives their order).

Prove the new key, run --restart-command, look at the files once more, journal RETIRING, retire
the old key, clear the journal. Until then a permanent failure undoes the rotation (exit 4);
once the command put the service on the new key, or from RETIRING on (the old key may be
Inactive or gone), it is never undone: the files keep the new key (exit 5 if it cannot finish).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from awscli_rotate_key.errors import IamError, Interrupted, PartlyDone, RolledBack
from awscli_rotate_key.rotate.journal import RETIRING
from awscli_rotate_key.rotate.mfa import SESSION_EXPIRED
from awscli_rotate_key.rotate.otherkey import NOTHING_ELSE, also
from awscli_rotate_key.rotate.profiles import Credentials
from awscli_rotate_key.rotate.prove import FIRST_DELAY, KeyNeverWorked
from awscli_rotate_key.rotate.reread import make_sure_files_hold_new_key
from awscli_rotate_key.rotate.rotation import ACTIVE, DELETED, INACTIVE

if TYPE_CHECKING:
    from awscli_rotate_key.rotate.rotation import Iam, Steps
    from awscli_rotate_key.rotate.steps import Rotation


class RetirementRefused(Exception):
    """IAM refused for good (AccessDenied, ...) to deactivate or delete the old key."""

    def __init__(self, error: IamError, deactivated: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.deactivated = deactivated


class RetirementUnfinished(Exception):
    """Transient failures of the retirement calls outlasted the budget, or the MFA session
    expired. ``old_status``: the old key's, in words ("still Active", "Active or Inactive")."""

    def __init__(self, error: IamError, old_status: str) -> None:
        super().__init__(str(error))
        self.error = error
        self.old_status = old_status

    @property
    def session_expired(self) -> bool:
        return self.error.code in SESSION_EXPIRED


def prove_new_key(steps: Steps, r: Rotation) -> None:
    """Wait until the new key works (signed by it); undo if it never does."""
    r.deadline = steps.monotonic() + r.options.wait_timeout
    wait_for_new_key(steps, steps.iam_for(r.new_key), r.deadline, r)


def wait_for_new_key(steps: Steps, iam: Iam, deadline: float, r: Rotation) -> None:
    """Wait until the new key works; undo if it never does, or on Ctrl-C, while that is safe.

    Once an earlier run started retiring the old key (journal step RETIRING) or ran the restart
    command, the new key has worked and is needed: the files keep it.
    """
    old, new = r.old_key, r.new_key
    try:
        steps.wait_until_key_works(iam, deadline)
    except KeyNeverWorked as error:
        if not r.may_undo:
            raise PartlyDone(
                f"the files hold the new key {new.access_key_id}, which IAM does not accept "
                f"right now ({error}); {not_undone(r)}. Run `aws iam rotate-my-key` again later"
            ) from None
        note = steps.undo(old, new, reactivate=False)
        raise RolledBack(
            f"the new key {new.access_key_id} did not work ({error}); it was deleted and the "
            f"old key {old.access_key_id} is in use again. {r.changed or NOTHING_ELSE}{note}"
        ) from None
    except KeyboardInterrupt:
        if not r.may_undo:
            raise
        note = steps.undo(old, new, reactivate=False)
        raise Interrupted(
            f"interrupted: the new key {new.access_key_id} was deleted and the old key "
            f"{old.access_key_id} is in use again.{also(r.changed)}{note}"
        ) from None


def not_undone(r: Rotation) -> str:
    """Why a rotation that cannot finish now is not undone, in words."""
    if r.retiring_already:
        return (
            f"the old key {r.old_key.access_key_id} may already be retired, so it is not restored"
        )
    return (
        "the restart command (--restart-command) put the service on the new key, so the "
        f"rotation is not undone: the old key {r.old_key.access_key_id} is not restored"
    )


def restart_service(steps: Steps, r: Rotation) -> None:
    """--restart-command, with the new key: it must succeed before the old key is retired.

    Not again once it succeeded for this rotation (journaled ``restarted``; a run resumed at
    RETIRING ran it too). A failure stops the run with the files on the new, working key and
    the old key Active (exit 5); the journal keeps the command, and the next run runs it again
    before retiring. A success is journaled: from then on the rotation is never undone.
    """
    if r.restart is None or r.restarted or r.retiring_already:
        return
    old, new = r.old_key, r.new_key
    steps.reporter.step(f"Running the restart command (--restart-command) with {new.access_key_id}")
    failed = steps.restart(r.restart, new)
    if failed is not None:
        raise PartlyDone(
            f"the restart command (--restart-command) {failed}; the files hold the new, working "
            f"key {new.access_key_id} and the old key {old.access_key_id} is still Active (not "
            "retired). Fix what the command restarts, then run `aws iam rotate-my-key` again: "
            "it runs the command again, then retires the old key"
        )
    r.restarted = r.journaled.restarted = True
    steps.save_journal(r.journaled, old, new)
    # The command may have used most of the wait budget: the retirement gets a whole one.
    r.deadline = steps.monotonic() + r.options.wait_timeout


def reread_files(steps: Steps, r: Rotation) -> None:
    """Right before retiring: the files still hold the new key (reread.py)."""
    kept = None if r.may_undo else not_undone(r)
    make_sure_files_hold_new_key(steps, r.journaled, r.old_key, r.new_key, kept, r.changed)


def journal_retiring(steps: Steps, r: Rotation) -> None:
    """From here on the old key may be Inactive or gone: the rotation is never undone."""
    if not r.retiring_already:
        r.journaled.step = RETIRING
        steps.save_journal(r.journaled, r.old_key, r.new_key)


def retire(steps: Steps, r: Rotation) -> None:
    """Retire the old key; undo on a permanent refusal (unless the service runs on the new
    key), stop (exit 5) on transient failures or an expired MFA session."""
    old, new = r.old_key, r.new_key
    deadline = max(r.deadline, steps.monotonic() + FIRST_DELAY)
    delete = r.journaled.delete_old_key
    try:
        if steps.session is not None:
            r.status = retire_through_session(steps, old.access_key_id, delete, deadline)
        else:
            r.status = retire_old_key(
                steps, steps.iam_for(new), old.access_key_id, delete, deadline
            )
    except RetirementRefused as error:
        refused(steps, r, error)
    except RetirementUnfinished as error:
        raise PartlyDone(unfinished(r, error)) from None


def refused(steps: Steps, r: Rotation, error: RetirementRefused) -> None:
    """IAM refused for good: undo, unless the restart command put the service on the new key."""
    old, new, code = r.old_key, r.new_key, error.error.code
    check = "iam:UpdateAccessKey and iam:DeleteAccessKey on your own user"
    if r.restarted:
        status = INACTIVE if error.deactivated else ACTIVE
        raise PartlyDone(
            f"IAM refused to retire the old key {old.access_key_id} ({code}); the restart "
            "command (--restart-command) put the service on the new key, so the rotation is "
            f"not undone: the files hold the new, working key {new.access_key_id} and the old "
            f"key is still {status}. Check that your policy allows {check}, then run "
            "`aws iam rotate-my-key` again to retire it"
        ) from None
    note = steps.undo(old, new, reactivate=error.deactivated or r.retiring_already)
    raise RolledBack(
        f"IAM refused to retire the old key {old.access_key_id} ({code}); the new key was "
        f"deleted and the old key is in use again. Check that your policy allows {check}."
        f"{also(r.changed)}{note}"
    ) from None


def unfinished(r: Rotation, error: RetirementUnfinished) -> str:
    old, new = r.old_key.access_key_id, r.new_key.access_key_id
    if error.session_expired:
        return (
            f"the MFA session expired before the old key {old} was retired; the files hold the "
            f"new, working key {new} and the old key is {error.old_status}. Run `aws iam "
            "rotate-my-key --token-code CODE` again with a new code to finish"
        )
    return (
        f"the files hold the new, working key {new}, but the old key {old} is "
        f"{error.old_status} ({error.error.code}). Run `aws iam rotate-my-key` again to finish"
    )


def retire_old_key(steps: Steps, iam: Iam, old_key_id: str, delete: bool, deadline: float) -> str:
    """Deactivate, then delete, the old key, signed by the new key. Returns its status."""
    status = ACTIVE
    try:
        steps.reporter.step(f"Deactivating the old key {old_key_id}")
        steps.retry(lambda: iam.update_access_key(old_key_id, INACTIVE), deadline)
        status = INACTIVE
        if delete:
            steps.reporter.step(f"Deleting the old key {old_key_id}")
            steps.retry(lambda: iam.delete_access_key(old_key_id), deadline)
            status = DELETED
    except IamError as error:
        if error.code == "NoSuchEntity":
            return DELETED
        if error.transient or error.code in SESSION_EXPIRED:
            raise RetirementUnfinished(error, f"still {status}") from error
        raise RetirementRefused(error, status == INACTIVE) from error
    return status


def retire_through_session(steps: Steps, old_key_id: str, delete: bool, deadline: float) -> str:
    """Under MFA: one call, through the MFA session (a session of the new key would need a
    second code). AWS does not say whether deactivating a session's parent key ends the
    session, so nothing goes through it after that: DeleteAccessKey alone (no deactivation
    first), or with --no-delete the UpdateAccessKey to Inactive as its last call; an undo
    after a refusal runs while the old key is still Active.
    """
    iam = steps.managing(Credentials(old_key_id, ""))
    sent: list[IamError] = []  # unanswered attempts: the call may have taken effect
    noting = _noting_unanswered(sent)
    try:
        if delete:
            steps.reporter.step(f"Deleting the old key {old_key_id} (through the MFA session)")
            steps.retry(noting(lambda: iam.delete_access_key(old_key_id)), deadline)
            return DELETED
        steps.reporter.step(f"Deactivating the old key {old_key_id} (through the MFA session)")
        steps.retry(noting(lambda: iam.update_access_key(old_key_id, INACTIVE)), deadline)
        return INACTIVE
    except IamError as error:
        if error.code == "NoSuchEntity":
            return DELETED
        status = f"Active or {'deleted' if delete else INACTIVE}" if sent else f"still {ACTIVE}"
        # ``sent``: a call that may have retired the old key went unanswered: never undo.
        if error.transient or error.code in SESSION_EXPIRED or sent:
            raise RetirementUnfinished(error, status) from error
        raise RetirementRefused(error, deactivated=False) from error


def _noting_unanswered(sent: list[IamError]) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """Wrap a call so that each unanswered attempt (it may have taken effect) lands in ``sent``."""

    def noting(call: Callable[[], None]) -> Callable[[], None]:
        def attempt() -> None:
            try:
                call()
            except IamError as error:
                if error.ambiguous:
                    sent.append(error)
                raise

        return attempt

    return noting


def clear(steps: Steps, r: Rotation) -> None:
    """The rotation is done: the journal and the rollback file go."""
    note = steps.journal_cleared_quietly()
    if note:  # the rotation is done; the next run only tidies up
        steps.reporter.warn(f"the old key {r.old_key.access_key_id} is {r.status}.{note}")
