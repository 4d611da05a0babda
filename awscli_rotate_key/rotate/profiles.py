"""Where a profile's key comes from, and which profiles in the local files hold a given key."""

from __future__ import annotations

import os
import shlex
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from awscli_rotate_key.errors import Refused

_ROTATE_INSTEAD = "Run rotate-my-key with a profile that holds a long-term access key (AKIA...)."


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str = field(repr=False)
    # Only for an MFA session (rotate/mfa.py): never a key the files hold, never written.
    session_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class KeySource:
    """The profile holding the static key to rotate, reached from ``requested`` via ``chain``."""

    requested: str
    profile: str
    chain: tuple[str, ...]


@dataclass(frozen=True)
class Location:
    """One profile section, in one file, that holds a key."""

    path: str
    section: str  # the raw section header, e.g. "dev", "profile dev", "default"
    profile: str


def static_key_source(
    requested: str,
    profiles: Mapping[str, Mapping[str, Any]],
    env: Mapping[str, str],
    profile_from_flag: bool,
    in_credentials_file: Collection[str] = (),
) -> KeySource:
    """Follow botocore's precedence to the profile whose static key is in use; refuse the rest.

    ``in_credentials_file``: profiles whose static key is in the shared credentials file (it
    beats ``credential_process``; a key in the config file does not).
    """
    if not profile_from_flag:
        _refuse_environment(env)
    chain: list[str] = []
    name = requested
    while True:
        if name in chain:
            raise Refused(f"profile {name!r} has a source_profile loop; nothing was changed")
        chain.append(name)
        config = profiles.get(name)
        if config is None:
            raise Refused(f"profile {name!r} was not found in the AWS config or credentials file")
        # The requested profile's role comes first; a source profile's static key comes first.
        source = config.get("source_profile")
        is_source = len(chain) > 1
        if "role_arn" in config and not (is_source and _has_static_key(config)):
            if source == name:
                _refuse_non_static(name, config, in_credentials_file)
                return KeySource(requested, name, tuple(chain))
            if source:
                name = source
                continue
            if "credential_source" not in config and "web_identity_token_file" not in config:
                _refuse(name, "a role_arn without source_profile or credential_source")
        _refuse_non_static(name, config, in_credentials_file)
        return KeySource(requested, name, tuple(chain))


def _refuse_environment(env: Mapping[str, str]) -> None:
    """Without --profile, botocore tries environment credentials before any profile."""
    if env.get("AWS_ACCESS_KEY_ID"):
        raise Refused(
            "the credentials come from the AWS_ACCESS_KEY_ID environment variable, which this "
            "command cannot update; nothing was changed. Unset it and use a profile (--profile)"
        )
    if env.get("AWS_ROLE_ARN") and env.get("AWS_WEB_IDENTITY_TOKEN_FILE"):
        raise Refused(
            "the credentials come from a web identity token (AWS_ROLE_ARN and "
            "AWS_WEB_IDENTITY_TOKEN_FILE); there is no long-term access key to rotate and "
            "nothing was changed. Unset them, or name the profile with --profile"
        )


def _has_static_key(config: Mapping[str, Any]) -> bool:
    """botocore's test (either option counts)."""
    return "aws_access_key_id" in config or "aws_secret_access_key" in config


def _refuse_non_static(
    name: str, config: Mapping[str, Any], in_credentials_file: Collection[str]
) -> None:
    """botocore's order within a profile: role, web identity, SSO, login, credentials file,
    credential_process, config file."""
    reasons = (
        (
            "credential_source",
            "a role assumed with credential_source (an instance or container "
            "role, or environment variables)",
        ),
        ("web_identity_token_file", "a web identity token"),
        ("sso_session", "IAM Identity Center (SSO)"),
        ("sso_start_url", "IAM Identity Center (SSO)"),
        ("login_session", "an `aws login` session"),
    )
    for option, what in reasons:
        if option in config:
            _refuse(name, what)
    if "aws_access_key_id" in config:
        key_id = str(config["aws_access_key_id"])
        if (
            "aws_session_token" in config
            or "aws_security_token" in config
            or key_id.startswith("ASIA")
        ):
            _refuse(name, "temporary session credentials (a session token), which expire anyway")
        if "credential_process" in config and name not in in_credentials_file:
            _refuse(name, "an external credential_process (it wins over keys in the config file)")
        return
    if "credential_process" in config:
        _refuse(name, "an external credential_process")
    if "aws_secret_access_key" in config:
        raise Refused(
            f"profile {name!r} has an aws_secret_access_key but no aws_access_key_id, so botocore "
            "does not use it as a key; nothing was changed. Add the profile's "
            "aws_access_key_id line, then run rotate-my-key again"
        )
    _refuse(name, "no access key in the AWS files (an instance, container or other role)")


def _refuse(name: str, what: str) -> None:
    raise Refused(
        f"profile {name!r} gets its credentials from {what}; there is no long-term access key "
        f"to rotate and nothing was changed. {_ROTATE_INSTEAD}"
    )


@dataclass(frozen=True)
class ProfileFiles:
    """The two files botocore reads profiles from."""

    credentials: str
    config: str

    def paths(self) -> tuple[str, str]:
        return self.credentials, self.config

    @staticmethod
    def real(path: str) -> str:
        return os.path.realpath(path)

    def sections(self) -> list[tuple[Location, Mapping[str, Any]]]:
        """Every profile section of both files, the credentials file first (botocore's order)."""
        from botocore.configloader import raw_config_parse

        found: list[tuple[Location, Mapping[str, Any]]] = []
        for path, is_config in ((self.credentials, False), (self.config, True)):
            if not os.path.isfile(path):
                continue
            for section, values in raw_config_parse(path).items():
                profile = _profile_name(section, is_config)
                if profile is not None:
                    found.append((Location(path, section, profile), values))
        return found

    def holding(self, key_id: str) -> list[Location]:
        """Every profile section that holds ``key_id``."""
        return [loc for loc, values in self.sections() if values.get("aws_access_key_id") == key_id]

    def in_credentials_file(self) -> set[str]:
        """Profiles whose static key is in the shared credentials file."""
        return {
            loc.profile
            for loc, values in self.sections()
            if loc.path == self.credentials and "aws_access_key_id" in values
        }

    def credentials_of(self, profile: str) -> Credentials:
        """The static key botocore would use for ``profile`` (credentials file wins)."""
        for loc, values in self.sections():
            if loc.profile == profile and "aws_access_key_id" in values:
                return Credentials(
                    str(values["aws_access_key_id"]), str(values.get("aws_secret_access_key", ""))
                )
        raise Refused(f"profile {profile!r} holds no access key in {' or '.join(self.paths())}")

    def refuse_unusable_key(self, profile: str) -> None:
        """Refuse, before any call, a key botocore could not sign with (partial, quoted)."""
        for loc, values in self.sections():
            if loc.profile == profile and "aws_access_key_id" in values:
                _refuse_unusable(loc, values)
                return

    def refuse_duplicate_headers(self, profiles: Collection[str]) -> None:
        """Refuse when two headers in one file name one of ``profiles`` (botocore uses the last)."""
        by_file: dict[tuple[str, str], list[str]] = {}
        for loc, _ in self.sections():
            if loc.profile in profiles:
                by_file.setdefault((loc.path, loc.profile), []).append(loc.section)
        for (path, profile), headers in by_file.items():
            if len(headers) > 1:
                shown = " and ".join(f"[{h}]" for h in headers)
                raise Refused(
                    f"{path} has {len(headers)} headers for profile {profile!r}: {shown}; "
                    "botocore uses the last one, so which key is meant is unclear and nothing "
                    "was changed. Remove or rename all but one of them"
                )


def _refuse_unusable(loc: Location, values: Mapping[str, Any]) -> None:
    where = f"profile {loc.profile!r} in {loc.path}"
    if "aws_secret_access_key" not in values:
        raise Refused(
            f"{where} has an aws_access_key_id but no aws_secret_access_key line, so botocore "
            "cannot use it (partial credentials); nothing was changed. Add the secret line"
        )
    for option in ("aws_access_key_id", "aws_secret_access_key"):
        value = str(values[option])
        if not value:
            raise Refused(f"{where} has an empty {option}; nothing was changed. Fill it in")
        if len(value) > 1 and value[0] in "\"'" and value[-1] == value[0]:
            raise Refused(
                f"{where}: the {option} value is in quotes, which botocore keeps as part of the "
                "value, so the key cannot work; nothing was changed. Remove the quotes"
            )


def _profile_name(section: str, is_config: bool) -> str | None:
    """The profile a section header names, read as botocore's ``build_profile_map`` does."""
    if not is_config:
        return section
    if section == "default":
        return "default"
    if not section.startswith("profile"):
        return None
    try:
        parts = shlex.split(section)
    except ValueError:
        return None
    return parts[1] if len(parts) == 2 else None
