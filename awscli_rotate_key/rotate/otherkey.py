"""The two-key limit: the user's other key, the local profiles that use it, and making room.

Both keys belong to the same IAM user, so a profile on the other key loses nothing by moving to
the key being rotated: before the other key is deleted its profiles are moved onto the old key
(it works, and it is the signer of this run), and the rotation then moves every holder of the
old key to the new one. A profile is never left on a deleted key, even if the run stops there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from awscli_rotate_key.errors import IamError, Refused
from awscli_rotate_key.keys import AccessKey
from awscli_rotate_key.rotate.local import describe

if TYPE_CHECKING:
    from awscli_rotate_key.rotate.profiles import Credentials
    from awscli_rotate_key.rotate.rotation import Iam, Options, Steps


# What a failure message says when this run changed nothing but the key it failed to make; once
# the other key is deleted, the note from ``make_room`` takes its place.
NOTHING_ELSE = "Nothing else changed."


def also(changed: str) -> str:
    """`` <changed>`` to append to a message, or nothing."""
    return f" {changed}" if changed else ""


def other_key_action(other: AccessKey | None, options: Options) -> str | None:
    from awscli_rotate_key.rotate.rotation import ACTIVE

    if other is None:
        return None
    return "Delete" if other.status != ACTIVE or options.delete_other_key else "Refuse"


def profiles_holding(steps: Steps, key_id: str) -> list[str]:
    """The local profiles whose files hold ``key_id``, in file order."""
    return list(dict.fromkeys(loc.profile for loc in steps.files.holding(key_id)))


def quoted(profiles: list[str]) -> str:
    return ", ".join(repr(p) for p in profiles)


def other_key_plan(steps: Steps, other: AccessKey | None, options: Options) -> Any:
    """The dry run's ``OtherKey``: what would happen to it, and the profiles that use it."""
    if other is None:
        return None
    return {
        "AccessKeyId": other.access_key_id,
        "Status": other.status,
        "Action": other_key_action(other, options),
        "Profiles": profiles_holding(steps, other.access_key_id),
    }


def refuse_an_other_key_in_use(
    steps: Steps, iam: Iam, user_name: str, other: AccessKey | None, options: Options
) -> None:
    """Refuse (nothing changed) when the other key is Active and not to be deleted."""
    from awscli_rotate_key.rotate.rotation import age_days

    if other is None or other_key_action(other, options) != "Refuse":
        return
    last_used = iam.last_used(other.access_key_id)
    holders = profiles_holding(steps, other.access_key_id)
    used_here = f"; local profiles {quoted(holders)} use it" if holders else ""
    moved = " (those profiles then move to the new key)" if holders else ""
    raise Refused(
        f"{user_name} already has two keys and the other one, {other.access_key_id}, "
        f"is Active ({age_days(other.create_date, steps.now())} days old, last used "
        f"{last_used}){used_here}; nothing was changed. Deactivate it if it is unused, or run "
        f"again with --delete-other-key to delete it{moved}"
    )


def moved_note(profiles: list[str], key_id: str, which_used_it: bool = True) -> str:
    """``profiles 'a', 'b', which used it, now use AKIA... (same user)``."""
    one = len(profiles) == 1
    who = f"profile {profiles[0]!r}" if one else f"profiles {quoted(profiles)}"
    clause = ", which used it," if which_used_it else ""
    return f"{who}{clause} now {'uses' if one else 'use'} {key_id} (same user)"


def make_room(steps: Steps, iam: Iam, old: Credentials, other: AccessKey) -> str:
    """Move the other key's profiles onto the old key, then delete the other key.

    Returns the sentence every later failure message carries (what changed besides the new
    key). Called with the journal saved (its ``keys_before`` omits the other key), so a run
    killed here is finished by the next one: it moves those profiles and deletes the other key.
    A failure that leaves the run standing refuses (exit 3, no key created) saying what moved.
    """
    holders = profiles_holding(steps, other.access_key_id)
    if holders:
        move_other_profiles(steps, old, other, holders)
    steps.reporter.step(f"Deleting the other key {other.access_key_id} ({other.status})")
    try:
        steps.retry(lambda: iam.delete_access_key(other.access_key_id), steps.monotonic() + 10)
    except IamError as error:
        if error.code != "NoSuchEntity":  # already gone: what was asked
            refuse_undeleted_other(steps, old, other, holders, error)
    steps.journal.forget_deleted([other.access_key_id])  # a secret kept for --undo goes with it
    deleted = f"The other key {other.access_key_id} was deleted"
    return f"{deleted}; {moved_note(holders, old.access_key_id)}." if holders else f"{deleted}."


def move_other_profiles(
    steps: Steps, old: Credentials, other: AccessKey, holders: list[str]
) -> None:
    steps.reporter.step(
        f"Moving profiles {quoted(holders)} from the other key {other.access_key_id} "
        f"to {old.access_key_id} (same user)"
    )
    try:
        steps.move_profiles(other.access_key_id, old)
    except (OSError, Refused) as error:
        steps.journal_cleared_quietly()
        raise Refused(
            f"could not move profiles {quoted(holders)} off the other key "
            f"{other.access_key_id} ({describe(error)}); no key was created or deleted, and "
            f"{where_profiles_are(steps, old, other, holders)}. Fix that, then run "
            "`aws iam rotate-my-key` again"
        ) from None


def where_profiles_are(steps: Steps, old: Credentials, other: AccessKey, holders: list[str]) -> str:
    """Which of ``holders`` moved onto the old key before a failure, read from the files."""
    try:
        still = profiles_holding(steps, other.access_key_id)
    except Exception:  # a file that cannot be read now: say only what is known
        return f"any of them already moved use {old.access_key_id}, which works (same user)"
    moved = [p for p in holders if p not in still]
    if not moved:
        return f"they all still use {other.access_key_id}"
    left = f"; {quoted(still)} still use {other.access_key_id}" if still else ""
    return f"{moved_note(moved, old.access_key_id, which_used_it=False)}{left}"


def refuse_undeleted_other(
    steps: Steps, old: Credentials, other: AccessKey, holders: list[str], error: IamError
) -> None:
    """The other key could not be deleted: stop with no new key; its profiles stay moved."""
    steps.journal_cleared_quietly()  # nothing is in flight: no new key was made
    state = (
        f"it may or may not be deleted ({error.code})"
        if error.transient or error.ambiguous
        else f"it is still {other.status} ({error.code})"
    )
    moved = f"; {moved_note(holders, old.access_key_id)}, which works" if holders else ""
    raise Refused(
        f"could not delete the other key {other.access_key_id}: {state}{moved}. No new key "
        f"was created and the old key {old.access_key_id} is unchanged. Run "
        "`aws iam rotate-my-key` again as before, or delete "
        f"{other.access_key_id} yourself first"
    ) from None
