"""``--all-profiles``: rotate every long-term key the local files hold, each key once.

Each key gets the normal ``rotate_my_key`` run (its own lock, journal and recovery), one after
the other; a failure ends that key's rotation only. Environment credentials play no part: keys
are read from the two files, never from the process environment.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from awscli_rotate_key.errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_REFUSED,
    EXIT_ROLLED_BACK,
    EXIT_UNEXPECTED,
    IamError,
    Refused,
    RotateKeyError,
)
from awscli_rotate_key.rotate.local import describe
from awscli_rotate_key.rotate.profiles import KeySource, ProfileFiles
from awscli_rotate_key.rotate.results import Result
from awscli_rotate_key.rotate.rotation import Options, Reporter, Steps

# Worst first (README "Exit codes", --all-profiles): the command exits with the worst result's.
# 255 leaves the key's state unknown; 5 leaves work for the next run; 4 failed but undid
# everything; 3 refused before any change.
WORST_FIRST = (EXIT_INTERRUPTED, EXIT_UNEXPECTED, EXIT_PARTIAL, EXIT_ROLLED_BACK, EXIT_REFUSED)

RotateOne = Callable[[Steps, KeySource, Options], Result]


@dataclass(frozen=True)
class MfaCodes:
    """The MFA codes of an --all-profiles run: one device's code (--token-code), or prompts.

    ``sessions_for(device, with_code)``: the run's one ``Steps.mfa`` (rotate/mfa.py) for that
    device; ``with_code``: --token-code is for it. The code is for --mfa-serial's device, else
    for the first device in file order.
    """

    sessions_for: Callable[[str, bool], object]
    serial: str | None = None  # --mfa-serial
    has_code: bool = False  # --token-code was given


@dataclass(frozen=True)
class KeyHolders:
    """One long-term key and every profile that holds it (the first is rotated)."""

    key_id: str
    profiles: tuple[str, ...]
    mfa_serial: str | None = None  # of the profile rotated: its rotation needs that device


@dataclass
class AllProfiles:
    """What ``--all-profiles`` returns: one entry per key, with its profiles and exit code."""

    results: list[dict[str, Any]]

    @property
    def exit_code(self) -> int:
        return worst([entry["ExitCode"] for entry in self.results])

    def to_output(self) -> dict[str, Any]:
        return {"Results": self.results}


def worst(codes: list[int]) -> int:
    """The worst exit code by ``WORST_FIRST``; 0 when every result is 0 (or there is none)."""
    for code in WORST_FIRST:
        if code in codes:
            return code
    return next((c for c in codes if c != EXIT_OK), EXIT_OK)


def keys_in_files(files: ProfileFiles) -> list[KeyHolders]:
    """Every long-term key a profile uses from the files, once, in file order.

    A profile uses the first of its sections holding a key (the credentials file wins, as in
    botocore); temporary keys (a session token, ASIA...) are not rotated.
    """
    sections = files.sections()
    mfa_serials = {loc.profile: str(v["mfa_serial"]) for loc, v in sections if "mfa_serial" in v}
    holders: dict[str, list[str]] = {}
    seen: set[str] = set()
    for loc, values in sections:
        key_id = values.get("aws_access_key_id")
        if not key_id or loc.profile in seen:
            continue
        seen.add(loc.profile)
        if not _temporary(values):
            holders.setdefault(str(key_id), []).append(loc.profile)
    return [
        KeyHolders(key_id, tuple(profiles), mfa_serials.get(profiles[0]))
        for key_id, profiles in holders.items()
    ]


def _temporary(values: Mapping[str, Any]) -> bool:
    return (
        "aws_session_token" in values
        or "aws_security_token" in values
        or str(values.get("aws_access_key_id", "")).startswith("ASIA")
    )


def rotate_all_profiles(
    steps: Steps,
    options: Options,
    rotate_one: RotateOne,
    terminal: bool,
    codes: MfaCodes | None = None,
) -> AllProfiles:
    """Rotate each key of ``keys_in_files`` independently; ``terminal``: stdin is a terminal."""
    results: list[dict[str, Any]] = []
    keys = keys_in_files(steps.files)
    mfa = _MfaRun(codes, terminal, _code_device(codes, keys))
    for holders in keys:
        current = _profiles_holding(steps.files, holders.key_id)
        if holders.profiles[0] not in current:
            continue  # moved by an earlier rotation of this run, which lists it
        entry = _rotate_key(steps, options, rotate_one, holders, mfa)
        results.append({**entry, "Profiles": current})
    return AllProfiles(results)


def _code_device(codes: MfaCodes | None, keys: list[KeyHolders]) -> str | None:
    if codes is None or not codes.has_code:
        return None
    return codes.serial or next((k.mfa_serial for k in keys if k.mfa_serial), None)


def _profiles_holding(files: ProfileFiles, key_id: str) -> list[str]:
    return list(dict.fromkeys(loc.profile for loc in files.holding(key_id)))


def _rotate_key(
    steps: Steps, options: Options, rotate_one: RotateOne, holders: KeyHolders, mfa: _MfaRun
) -> dict[str, Any]:
    """One key's rotation as a result entry; its failure is reported, never raised."""
    profile = holders.profiles[0]
    mine = dataclasses.replace(steps, reporter=_ForProfile(steps.reporter, profile))
    try:
        setattr(mine, "mfa", mfa.sessions(holders))  # noqa: B010 (Steps.mfa, rotate/mfa.py)
        steps.files.refuse_duplicate_headers([profile])
        steps.files.refuse_unusable_key(profile)
        result = rotate_one(mine, KeySource(profile, profile, (profile,)), options)
    except RotateKeyError as error:
        return _failed(mine, holders, error.exit_code, str(error))
    except IamError as error:
        return _failed(mine, holders, EXIT_UNEXPECTED, _iam_failure(steps, error, profile))
    except OSError as error:
        message = f"could not read or write a local file ({describe(error)})"
        return _failed(mine, holders, EXIT_UNEXPECTED, message)
    return {**result.to_output(), "ExitCode": EXIT_OK}


def _failed(steps: Steps, holders: KeyHolders, code: int, message: str) -> dict[str, Any]:
    steps.reporter.warn(message)
    return {"AccessKeyId": holders.key_id, "ExitCode": code, "Error": message}


def _iam_failure(steps: Steps, error: IamError, profile: str) -> str:
    message = str(error).rstrip().rstrip(".")
    if not os.path.exists(steps.journal.path):
        return message
    return (
        f"{message}. A rotation is in flight and journaled: run `aws iam rotate-my-key "
        f"--profile {profile}` again to finish or undo it"
    )


@dataclass
class _MfaRun:
    """One code serves one device once: which keys may have an MFA session in this run."""

    codes: MfaCodes | None
    terminal: bool
    code_device: str | None  # the device --token-code is for
    used: set[str] = dataclasses.field(default_factory=set)

    def sessions(self, holders: KeyHolders) -> object:
        """The key's ``Steps.mfa`` (None: it needs no MFA); Refused when no code can serve."""
        device = holders.mfa_serial
        if device is None or self.codes is None:
            return None
        again = (
            f"nothing was changed. Run `aws iam rotate-my-key --profile {holders.profiles[0]} "
            "--token-code CODE` with a new code from that device"
        )
        if device in self.used:
            raise Refused(
                f"{holders.key_id} needs an MFA code from {device}, whose code was already "
                f"used in this run (a code works once); {again}"
            )
        if not self.terminal and device != self.code_device:
            raise Refused(
                f"{holders.key_id} needs an MFA code from {device}, --token-code is not for it "
                f"and stdin is not a terminal to ask for one; {again}"
            )
        self.used.add(device)
        return self.codes.sessions_for(device, device == self.code_device)


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
