"""The last look at the files before the old key is retired.

Another program (a concurrent ``aws configure set``, a sync tool, an editor saving an old
buffer) may have put the old key back after the new one was saved; retiring the old key would
then break that profile. So right before retirement: every profile must be off the old key and
the profile in use on the new one. If not, the new key is written once more and, after a
moment for that program to finish, checked again; if it still does not hold, the rotation is
undone (exit 4) naming the file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from awscli_rotate_key.errors import PartlyDone, Refused, RolledBack
from awscli_rotate_key.rotate.local import describe
from awscli_rotate_key.rotate.otherkey import also

if TYPE_CHECKING:
    from awscli_rotate_key.rotate.journal import JournalRecord
    from awscli_rotate_key.rotate.profiles import Credentials
    from awscli_rotate_key.rotate.rotation import Steps

# `aws configure set` writes one value per process: give a writer caught in the middle time
# to finish before the second look.
SETTLE_SECONDS = 1.0


def files_missing_new_key(
    steps: Steps, profile: str, old_key_id: str, new_key_id: str
) -> list[str]:
    """The files where a profile holds the old key, or where ``profile`` lacks the new one."""
    try:
        sections = steps.files.sections()
    except Exception:  # a file caught half-written by another program
        return list(steps.files.paths())
    found: list[str] = []
    in_use = None
    for loc, values in sections:
        key_id = values.get("aws_access_key_id")
        if key_id == old_key_id:
            found.append(loc.path)
        if loc.profile == profile and key_id is not None and in_use is None:
            in_use = (loc.path, key_id)
    if in_use is None or in_use[1] != new_key_id:
        found.append(in_use[0] if in_use else steps.files.paths()[0])
    return list(dict.fromkeys(found))


def make_sure_files_hold_new_key(
    steps: Steps,
    record: JournalRecord,
    old: Credentials,
    new: Credentials,
    kept: str | None,
    changed: str = "",
) -> None:
    """Before retiring: the files hold the new key, or they are made to, or the run is undone.

    ``kept``: why the rotation may not be undone (an earlier run began retiring, so the old key
    may be gone; the restart command put the service on the new key), or None: then the run
    stops (exit 5) instead. ``changed``: what the run changed before creating the key.
    """
    missing = files_missing_new_key(steps, record.profile, old.access_key_id, new.access_key_id)
    if not missing:
        return
    steps.reporter.warn(
        f"{' and '.join(missing)} no longer holds the new key {new.access_key_id} (another "
        "program wrote it meanwhile); writing it once more"
    )
    try:
        steps.move_profiles(old.access_key_id, new)
    except (OSError, Refused) as error:
        steps.reporter.warn(f"could not write it ({describe(error)})")
    steps.sleep(SETTLE_SECONDS)
    missing = files_missing_new_key(steps, record.profile, old.access_key_id, new.access_key_id)
    if not missing:
        return
    where = " and ".join(missing)
    if kept is not None:
        raise PartlyDone(
            f"{where} went back to another key while the rotation ran (another program writes "
            f"it); {kept}, and it was not retired further. Stop that program, then run "
            "`aws iam rotate-my-key` again to finish"
        )
    if not old.secret_access_key:
        raise_without_old_secret(steps, record, where, new)
    note = steps.undo(old, new, reactivate=False)
    raise RolledBack(
        f"{where} went back to another key while the rotation ran (another "
        "program writes it), even after the new key was written once more; the new key "
        f"{new.access_key_id} was deleted and the old key {old.access_key_id} is in use again. "
        f"Stop that program, then run `aws iam rotate-my-key` again.{also(changed)}{note}"
    )


def raise_without_old_secret(
    steps: Steps, record: JournalRecord, where: str, new: Credentials
) -> None:
    """A recovery whose old secret is gone cannot undo: stop with both keys Active (exit 5).

    Nothing is lost: the profile uses what the other program wrote, and the next run, seeing
    the old key in the files, puts every profile back on it and deletes the new key.
    """
    try:
        held = steps.files.credentials_of(record.profile).access_key_id
    except Exception:  # a file caught half-written by another program
        held = "another key"
    if held == record.old_key_id:
        next_run = (
            "it puts every profile back on the old key, deletes the new key and rotates again"
        )
    else:
        next_run = "it finishes or abandons the interrupted rotation"
    raise PartlyDone(
        f"{where} went back to another key while finishing an interrupted rotation (another "
        f"program writes it), even after the new key was written once more: profile "
        f"{record.profile!r} now uses {held}. Nothing was retired or deleted: the old key "
        f"{record.old_key_id} and the new key {new.access_key_id} are both Active, and the "
        "old key's secret is no longer on disk to undo with. Stop that program, then run "
        f"`aws iam rotate-my-key` again: {next_run}"
    )
