"""``--all-profiles``: rotate every long-term key the local files hold, each key once.

Each key gets the normal ``rotate_my_key`` run (its own lock, journal and recovery), one after
the other; a failure ends that key's rotation only. Environment credentials play no part: keys
are read from the two files, never from the process environment. There is one journal per AWS
config directory: a rotation an earlier run left in flight is recovered first, as its own
entry, and while one stays in flight no other key's rotation starts.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from awscli_rotate_key.errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_REFUSED,
    EXIT_ROLLED_BACK,
    EXIT_UNEXPECTED,
    IamError,
    Interrupted,
    RotateKeyError,
)
from awscli_rotate_key.rotate.allprofiles_keys import KeyHolders, MfaCodes, MfaRun, keys_in_files
from awscli_rotate_key.rotate.inflight import locked_run
from awscli_rotate_key.rotate.journal import JournalRecord
from awscli_rotate_key.rotate.local import describe
from awscli_rotate_key.rotate.profiles import KeySource, ProfileFiles
from awscli_rotate_key.rotate.recovery import recover
from awscli_rotate_key.rotate.restart import Restart
from awscli_rotate_key.rotate.results import Result
from awscli_rotate_key.rotate.rotation import Options, Reporter, Steps
from awscli_rotate_key.rotate.sequence import session_for_the_restarts
from awscli_rotate_key.rotate.statefiles import Unreadable

# Worst first (README "Exit codes", --all-profiles): the command exits with the worst result's.
# 255 leaves the key's state unknown; 5 leaves work for the next run; 4 failed but undid
# everything; 3 refused before any change.
WORST_FIRST = (EXIT_INTERRUPTED, EXIT_UNEXPECTED, EXIT_PARTIAL, EXIT_ROLLED_BACK, EXIT_REFUSED)

RotateOne = Callable[[Steps, KeySource, Options], Result]
Entry = dict[str, Any]

# A recovery that leaves the rotated key to rotate (the rotation never happened, or the profile
# holds another key now); any other recovery's entry covers its profile's key.
_KEY_STILL_TO_ROTATE = ("RolledBack", "Discarded")


@dataclass
class AllProfiles:
    """What ``--all-profiles`` returns: one entry per key, with its profiles and exit code."""

    results: list[Entry]

    @property
    def exit_code(self) -> int:
        return worst([entry["ExitCode"] for entry in self.results])

    def to_output(self) -> dict[str, Any]:
        return {"Results": self.results}


class RunInterrupted(Interrupted):
    """Ctrl-C: the run stops at once; ``done`` holds the entries so far (the last: the key
    interrupted), so that the output still says what was done."""

    def __init__(self, done: AllProfiles) -> None:
        super().__init__(
            "interrupted: the run stopped and the keys after the interrupted one were not "
            "rotated (Results lists what was done). Any rotation in flight is journaled: the "
            "next `aws iam rotate-my-key --all-profiles` finishes or undoes it, then the rest"
        )
        self.done = done


def worst(codes: list[int]) -> int:
    """The worst exit code by ``WORST_FIRST``; 0 when every result is 0 (or there is none)."""
    for code in WORST_FIRST:
        if code in codes:
            return code
    return next((c for c in codes if c != EXIT_OK), EXIT_OK)


def rotate_all_profiles(
    steps: Steps,
    options: Options,
    rotate_one: RotateOne,
    terminal: bool,
    codes: MfaCodes | None = None,
) -> AllProfiles:
    """Rotate each key of ``keys_in_files`` independently; ``terminal``: stdin is a terminal.

    Refused (nothing changed) for a --token-code that no key needs; RunInterrupted on Ctrl-C.
    """
    keys = keys_in_files(steps.files)
    run = _Run(steps, options, rotate_one, MfaRun.for_keys(codes, terminal, keys))
    try:
        if not options.dry_run and os.path.exists(steps.journal.path):
            run.recover_first(keys)
            keys = keys_in_files(steps.files)  # the recovery may have moved profiles
        for holders in keys:
            run.rotate(holders)
    except KeyboardInterrupt:  # between two keys: what was done is still reported
        raise RunInterrupted(AllProfiles(run.results)) from None
    return AllProfiles(run.results)


@dataclass
class _Run:
    """The entries of one --all-profiles run, and what stops further keys."""

    steps: Steps
    options: Options
    rotate_one: RotateOne
    mfa: MfaRun
    results: list[Entry] = field(default_factory=list)
    recovered: str | None = None  # the profile whose earlier rotation has its own entry
    in_flight: str | None = None  # why no further key may start: a rotation stays journaled

    def recover_first(self, keys: list[KeyHolders]) -> None:
        """The rotation an earlier run left in flight, finished or undone, as its own entry."""
        pending = self.steps.journal.pending()
        record = pending if isinstance(pending, JournalRecord) else None
        holders = next((k for k in keys if record and record.profile in k.profiles), None)
        try:
            entry = _recover(self, record, holders)  # an unreadable journal: refused, exit 3
        except _NothingPending:  # another run finished it meanwhile
            return
        if record is None:
            self._add(entry, pending.profiles if isinstance(pending, Unreadable) else [])
            return
        if entry.get("Recovered", {}).get("Action") not in _KEY_STILL_TO_ROTATE:
            self.recovered = record.profile
        holding = _profiles_holding(self.steps.files, holders.key_id) if holders else []
        self._add(entry, holding or [record.profile])

    def rotate(self, holders: KeyHolders) -> None:
        current = _profiles_holding(self.steps.files, holders.key_id)
        covered = self.recovered is not None and self.recovered in current
        if holders.profiles[0] not in current or covered:
            return  # moved by an earlier rotation of this run, or recovered: listed there
        if self.in_flight is not None:
            mine = _for_profile(self.steps, holders.profiles[0])
            self._add(
                _failed(mine, holders.key_id, EXIT_REFUSED, _blocked(self.in_flight)), current
            )
            return
        self._add(_rotate_key(self, holders), current)

    def _add(self, entry: Entry, profiles: list[str]) -> None:
        self.results.append({**entry, "Profiles": profiles})
        if entry["ExitCode"] == EXIT_INTERRUPTED:
            raise RunInterrupted(AllProfiles(self.results))
        if entry["ExitCode"] != EXIT_OK and self.in_flight is None:
            self.in_flight = _still_in_flight(self.steps)


class _NothingPending(Exception):
    pass


def _rotate_key(run: _Run, holders: KeyHolders) -> Entry:
    """One key's rotation as a result entry; its failure is reported, never raised."""
    profile = holders.profiles[0]
    mine = _for_profile(run.steps, profile)

    def rotation() -> Entry:
        one = dataclasses.replace(mine, mfa=run.mfa.sessions(holders))
        run.steps.files.refuse_duplicate_headers([profile])
        run.steps.files.refuse_unusable_key(profile)
        return run.rotate_one(one, KeySource(profile, profile, (profile,)), run.options).to_output()

    return _reported(mine, holders.key_id, profile, rotation)


def _recover(run: _Run, record: JournalRecord | None, holders: KeyHolders | None) -> Entry:
    """Finish or undo the journaled rotation, under the run's locks, as sequence.py does."""
    profile = record.profile if record else "?"
    mine = _for_profile(run.steps, profile) if record else run.steps
    command, timeout = run.options.restart_command, run.options.restart_timeout
    restart = Restart(command, timeout) if command else None  # if the journal recorded none

    def recovery() -> Entry:
        one = dataclasses.replace(mine, mfa=run.mfa.sessions(holders) if holders else None)
        with locked_run(one, run.options.wait_timeout) as found:
            if found is None:
                raise _NothingPending
            session_for_the_restarts(one, run.options, found)  # under MFA: long enough
            summary, finished = recover(one, found, run.options.wait_timeout, restart)
        return finished.to_output() if finished is not None else {"Recovered": summary}

    key_id = holders.key_id if holders else (record.old_key_id if record else "")
    return _reported(mine, key_id, profile, recovery)


def _reported(steps: Steps, key_id: str, profile: str, attempt: Callable[[], Entry]) -> Entry:
    """``attempt``'s output with ExitCode 0, or its failure as an entry (warned, not raised)."""
    try:
        return {**attempt(), "ExitCode": EXIT_OK}
    except RotateKeyError as error:  # Interrupted too: exit 130 stops the run (_Run._add)
        return _failed(steps, key_id, error.exit_code, str(error))
    except IamError as error:
        return _failed(steps, key_id, EXIT_UNEXPECTED, _iam_failure(steps, error, profile))
    except OSError as error:
        message = f"could not read or write a local file ({describe(error)})"
        return _failed(steps, key_id, EXIT_UNEXPECTED, message)
    except KeyboardInterrupt:
        message = (
            "interrupted; a rotation in flight is journaled, and the next `aws iam "
            f"rotate-my-key --profile {profile}` finishes or undoes it"
        )
        return _failed(steps, key_id, EXIT_INTERRUPTED, message)


def _failed(steps: Steps, key_id: str, code: int, message: str) -> Entry:
    steps.reporter.warn(message)
    return {"AccessKeyId": key_id, "ExitCode": code, "Error": message}


def _iam_failure(steps: Steps, error: IamError, profile: str) -> str:
    message = str(error).rstrip().rstrip(".")
    if not os.path.exists(steps.journal.path):
        return message
    return (
        f"{message}. A rotation is in flight and journaled: run `aws iam rotate-my-key "
        f"--profile {profile}` again to finish or undo it"
    )


def _still_in_flight(steps: Steps) -> str | None:
    """After a failure: the rotation its journal keeps in flight, if it does."""
    if not os.path.exists(steps.journal.path):
        return None
    record = steps.journal.pending()
    if isinstance(record, JournalRecord):
        return f"the rotation of profile {record.profile!r} is still in flight"
    return "the rotation journal cannot be read" if record is not None else None


def _blocked(in_flight: str) -> str:
    return (
        f"not attempted: {in_flight} (see its entry), and no other rotation can start until it "
        "is finished (one journal per AWS config directory); nothing was changed for this key. "
        "Fix what that entry says, then run `aws iam rotate-my-key --all-profiles` again"
    )


def _profiles_holding(files: ProfileFiles, key_id: str) -> list[str]:
    return list(dict.fromkeys(loc.profile for loc in files.holding(key_id)))


def _for_profile(steps: Steps, profile: str) -> Steps:
    return dataclasses.replace(steps, reporter=_ForProfile(steps.reporter, profile))


class _ForProfile:
    """The run's reporter, each line naming the profile whose key is being rotated."""

    def __init__(self, reporter: Reporter, profile: str) -> None:
        self._reporter = reporter
        self._prefix = f"profile {profile!r}: "

    def step(self, message: str) -> None:
        self._reporter.step(self._prefix + message)

    def warn(self, message: str) -> None:
        self._reporter.warn(self._prefix + message)

    def waiting(self) -> None:
        self._reporter.waiting()
