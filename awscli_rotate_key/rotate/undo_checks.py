"""What ``--undo`` would act on, checked before any change (exit 3 when there is nothing)."""

from __future__ import annotations

from dataclasses import dataclass

from awscli_rotate_key.errors import IamError, Refused
from awscli_rotate_key.rotate.kept import KeptKey
from awscli_rotate_key.rotate.profiles import Credentials
from awscli_rotate_key.rotate.rights import require_retirement_rights
from awscli_rotate_key.rotate.rotation import INACTIVE, Options, Steps


class NothingToUndo(Refused):
    """Nothing to undo for the profile (exit 3, nothing changed).

    ``forget`` says the kept old key can never be used again; only the real ``--undo``, under
    the lock, removes it (a dry run changes nothing).
    """

    def __init__(self, message: str, forget: bool = False) -> None:
        super().__init__(message)
        self.forget = forget


@dataclass(frozen=True)
class Undoing:
    """What an undo acts on: the kept old key (with its secret) and the new key in the files."""

    kept: KeptKey
    new: Credentials

    @property
    def old(self) -> Credentials:
        return self.kept.old


def check_undo(steps: Steps, profile: str, options: Options) -> Undoing:
    """What there is to undo for ``profile``; Refused (exit 3, nothing changed) if nothing."""
    kept = steps.journal.kept.get(profile)
    if kept is None:
        raise NothingToUndo(
            f"nothing to undo for profile {profile!r}: no old key is kept for it (only a rotation "
            "with --no-delete keeps one, until the next rotation of the profile)"
        )
    if sorted(kept.files) != sorted(steps.files.paths()):
        raise Refused(
            f"the --no-delete rotation of profile {profile!r} was made with the files "
            f"{' and '.join(kept.files)}; run `aws iam rotate-my-key --undo` with those files "
            "(AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE). Nothing was changed"
        )
    new = steps.files.credentials_of(profile)
    check_guards(profile, new, kept, options)
    if new.access_key_id == kept.old.access_key_id:  # a rotation that was rolled back
        raise NothingToUndo(
            f"nothing to undo for profile {profile!r}: its files already hold the old key "
            f"{kept.old.access_key_id}",
            forget=True,
        )
    if new.access_key_id != kept.new_key_id:
        raise NothingToUndo(
            f"nothing to undo for profile {profile!r}: its files hold {new.access_key_id}, not "
            f"{kept.new_key_id}, the key its --no-delete rotation made. Nothing was changed"
        )
    steps.open_session(new)  # under MFA: the session of the key the files hold (mfa.py)
    status = old_key_status(steps, kept, new)
    if status is None:  # its secret can never be used again
        removed = "would be removed by --undo" if options.dry_run else "was removed"
        raise NothingToUndo(
            f"nothing to undo for profile {profile!r}: the old key {kept.old.access_key_id} no "
            f"longer exists (its kept secret {removed}). The files keep {new.access_key_id}",
            forget=True,
        )
    if status != INACTIVE:
        raise NothingToUndo(
            f"nothing to undo for profile {profile!r}: the old key {kept.old.access_key_id} is "
            f"{status}, not Inactive. Nothing was changed"
        )
    return Undoing(kept, new)


def check_guards(profile: str, new: Credentials, kept: KeptKey, options: Options) -> None:
    if options.access_key_id and options.access_key_id != new.access_key_id:
        raise Refused(
            f"profile {profile!r} uses {new.access_key_id}, not {options.access_key_id} "
            "(--access-key-id); nothing was changed"
        )
    if options.user_name and options.user_name != kept.user_name:
        raise Refused(
            f"the key of profile {profile!r} belongs to IAM user {kept.user_name!r}, not "
            f"{options.user_name!r} (--user-name); nothing was changed"
        )


def old_key_status(steps: Steps, kept: KeptKey, new: Credentials) -> str | None:
    """The kept old key's status, listed with the new key (under MFA through its session);
    None when it no longer exists."""
    through = "through the MFA session of" if steps.session is not None else "signed by"
    try:
        keys = steps.managing(new).list_access_keys()
    except IamError as error:
        raise Refused(
            f"cannot check the old key {kept.old.access_key_id}: ListAccessKeys {through} the "
            f"new key {new.access_key_id} failed ({error.code}); nothing was changed"
        ) from None
    return next((k.status for k in keys if k.access_key_id == kept.old.access_key_id), None)


def require_undo_rights(steps: Steps, new: Credentials, wait_timeout: float) -> None:
    """Refuse (exit 3) before any change unless the new key's user may reactivate and delete.

    Asked signed by the new key (same user as the old one), under MFA through its session:
    without iam:UpdateAccessKey the old key cannot be reactivated, without iam:DeleteAccessKey
    the undo would end with both Active.
    """
    require_retirement_rights(
        steps,
        steps.managing(new),
        wait_timeout,
        without="--undo needs iam:UpdateAccessKey to reactivate the old key and "
        "iam:DeleteAccessKey to delete the new key, so it did not start",
        again="aws iam rotate-my-key --undo",
    )
