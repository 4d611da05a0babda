"""``--all-profiles``: which keys the files hold, which MFA device each needs, who gets a code.

Pure decisions over the two files' sections, so the run (allprofiles.py) only walks them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from awscli_rotate_key.errors import Refused
from awscli_rotate_key.rotate.mfa import MfaSessions
from awscli_rotate_key.rotate.profiles import Location, ProfileFiles

Sections = list[tuple[Location, Mapping[str, Any]]]


@dataclass(frozen=True)
class MfaCodes:
    """The MFA codes of an --all-profiles run: one device's code (--token-code), or prompts.

    ``sessions_for(device, with_code)``: the run's one ``Steps.mfa`` for that device;
    ``with_code``: --token-code is for it. The code is for --mfa-serial's device, else for the
    first device in file order.
    """

    sessions_for: Callable[[str, bool], MfaSessions]
    serial: str | None = None  # --mfa-serial
    has_code: bool = False  # --token-code was given


@dataclass(frozen=True)
class KeyHolders:
    """One long-term key and every profile that holds it (the first is rotated)."""

    key_id: str
    profiles: tuple[str, ...]
    # Every device named by a holder (else by a role profile whose source_profile chain ends at
    # one): one is the device its rotation needs; two are refused (which one is meant?).
    mfa_serials: tuple[str, ...] = ()
    # The devices came from role profiles only: such a device may be for AssumeRole alone, so
    # the key goes without MFA when no code can be had for it (an MFA-only policy then refuses
    # at the pre-check: exit 3, nothing changed).
    mfa_from_roles: bool = False


def keys_in_files(files: ProfileFiles) -> list[KeyHolders]:
    """Every long-term key a profile uses from the files, once, in file order.

    A profile uses the first of its sections holding a key (the credentials file wins, as in
    botocore); temporary keys (a session token, ASIA...) are not rotated.
    """
    sections = files.sections()
    holders: dict[str, list[str]] = {}
    seen: set[str] = set()
    for loc, values in sections:
        key_id = values.get("aws_access_key_id")
        if not key_id or loc.profile in seen:
            continue
        seen.add(loc.profile)
        if not _temporary(values):
            holders.setdefault(str(key_id), []).append(loc.profile)
    settings = _settings(sections)
    found = []
    for key_id, profiles in holders.items():
        own = _devices(settings, profiles, roles=False)
        roles = () if own else _devices(settings, profiles, roles=True)
        found.append(KeyHolders(key_id, tuple(profiles), own or roles, bool(roles)))
    return found


def _temporary(values: Mapping[str, Any]) -> bool:
    return (
        "aws_session_token" in values
        or "aws_security_token" in values
        or str(values.get("aws_access_key_id", "")).startswith("ASIA")
    )


def _settings(sections: Sections) -> dict[str, dict[str, str]]:
    """Each profile's settings over its sections, the credentials file's winning (botocore)."""
    merged: dict[str, dict[str, str]] = {}
    for loc, values in sections:
        mine = merged.setdefault(loc.profile, {})
        for name, value in values.items():
            mine.setdefault(name, str(value).strip())
    return merged


def _devices(
    settings: Mapping[str, Mapping[str, str]], holders: Iterable[str], roles: bool
) -> tuple[str, ...]:
    """The mfa_serial of each holder, or (``roles``) of each other profile whose source_profile
    chain ends at one."""
    holding = set(holders)
    found = [
        values["mfa_serial"]
        for profile, values in settings.items()
        if values.get("mfa_serial")
        and (
            _chain_end(settings, profile) in holding and profile not in holding
            if roles
            else profile in holding
        )
    ]
    return tuple(dict.fromkeys(found))


def _chain_end(settings: Mapping[str, Mapping[str, str]], profile: str) -> str:
    seen = {profile}
    while (source := settings.get(profile, {}).get("source_profile")) and source not in seen:
        seen.add(source)
        profile = source
    return profile


@dataclass
class MfaRun:
    """One code serves one device once: which keys may have an MFA session in this run."""

    codes: MfaCodes | None
    terminal: bool
    code_device: str | None  # the device --token-code is for
    used: dict[str, str] = field(default_factory=dict)  # device -> the key it serves
    made: dict[str, MfaSessions] = field(default_factory=dict)

    @classmethod
    def for_keys(cls, codes: MfaCodes | None, terminal: bool, keys: list[KeyHolders]) -> MfaRun:
        """Refused (nothing changed) for a --token-code no key needs, as a one-profile run is."""
        device = None
        if codes is not None and codes.has_code:
            device = codes.serial or next((d for k in keys for d in k.mfa_serials), None)
            if not any(device in k.mfa_serials for k in keys):
                raise Refused(_unused_code(codes.serial))
        return cls(codes, terminal, device)

    def _can_serve(self, device: str, key_id: str) -> bool:
        unused = self.used.get(device, key_id) == key_id
        return unused and (self.terminal or device == self.code_device)

    def sessions(self, holders: KeyHolders) -> MfaSessions | None:
        """The key's ``Steps.mfa`` (None: it needs no MFA); Refused when no code can serve."""
        if not holders.mfa_serials or self.codes is None:
            return None
        (device, *others) = holders.mfa_serials
        again = f"nothing was changed. Run `aws iam rotate-my-key --profile {holders.profiles[0]}"
        if others:
            raise Refused(
                f"{holders.key_id} is used by profiles naming {len(holders.mfa_serials)} MFA "
                f"devices ({', '.join(holders.mfa_serials)}), so which one to use is unclear; "
                f"{again} --mfa-serial ARN`, or set one mfa_serial in those profiles"
            )
        again += " --token-code CODE` with a new code from that device"
        if holders.mfa_from_roles and not self._can_serve(device, holders.key_id):
            return None  # a role's device, and no code for it: the key's own policy decides
        if self.used.get(device, holders.key_id) != holders.key_id:
            raise Refused(
                f"{holders.key_id} needs an MFA code from {device}, whose code was already "
                f"used in this run (a code works once); {again}"
            )
        if not self.terminal and device != self.code_device:
            raise Refused(
                f"{holders.key_id} needs an MFA code from {device}, --token-code is not for it "
                f"and stdin is not a terminal to ask for one; {again}"
            )
        if device not in self.made:  # the same key again (recovered, then rotated): one code
            self.used[device] = holders.key_id
            self.made[device] = self.codes.sessions_for(device, device == self.code_device)
        return self.made[device]


def _unused_code(serial: str | None) -> str:
    if serial:
        return (
            f"--token-code is for {serial} (--mfa-serial), but no profile in the files names "
            "that device (mfa_serial); nothing was changed. Drop --token-code, or fix "
            "--mfa-serial"
        )
    return (
        "--token-code was given but no MFA device is known (no --mfa-serial, no mfa_serial in "
        "any profile of the files); nothing was changed"
    )
