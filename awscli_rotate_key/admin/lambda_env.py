"""The scheduled function's settings: one environment variable per option of the CLI command.

Each variable is named after its option (``--remind-days`` -> ``REMIND_DAYS``); unset or empty
means the option's default. Every value is checked before any AWS call, and a bad one fails the
invocation with a message naming the variable. The invoking event can only narrow a run:
``{"DryRun": true}`` forces a dry run whatever ``APPLY`` says; nothing else in it is read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from awscli_rotate_key.admin.enforce import EnforceSettings
from awscli_rotate_key.admin.enforce_rules import MAX_DAYS, SettingsConflict

T = TypeVar("T")

_WHOLE = re.compile(r"[0-9]+")
_ACCOUNT_ID = re.compile(r"\d{12}")
_ROLE_NAME = re.compile(r"[\w+=,.@/-]{1,512}")  # a role name, or path/name, as in a role ARN
_GROUP_NAME = re.compile(r"[\w+=,.@-]{1,128}")
_TAG_KEY = re.compile(r"[\w .:/=+@-]{1,128}")  # IAM's tag key characters
_ADDRESS = re.compile(r"[^@\s<>,]+@[^@\s<>,]+\.[^@\s<>,]+")
_TOPIC_ARN = re.compile(r"arn:aws[\w-]*:sns:[\w-]+:\d{12}:[\w-]{1,256}")

# Environment variable -> its EnforceSettings field (and what its value must be).
WHOLE_NUMBERS = {  # name -> (field, the least value, the greatest)
    "REMIND_DAYS": ("remind_days", 0, MAX_DAYS),
    "DISABLE_DAYS": ("disable_days", 0, MAX_DAYS),
    "GRACE_DAYS": ("grace_days", 0, MAX_DAYS),
    "REMIND_EVERY": ("remind_every", 1, MAX_DAYS),
    "MAX_EXEMPTION_DAYS": ("max_exemption_days", 0, MAX_DAYS),
    "DELETE_DAYS": ("delete_days", 0, MAX_DAYS),  # unset: never
    "DISABLE_UNUSED_DAYS": ("disable_unused_days", 0, MAX_DAYS),  # unset: never
    "MAX_CONCURRENCY": ("max_concurrency", 1, None),
}
SWITCHES = {"REMIND_ONLY": "remind_only", "APPLY": "apply", "ORGANIZATION": "organization"}
# name -> (field, pattern, what a value must be)
TEXTS = {
    "EMAIL_TAG": ("email_tag", _TAG_KEY, "an IAM tag key"),
    "EXEMPT_TAG": ("exempt_tag", _TAG_KEY, "an IAM tag key"),
    "SENDER": ("sender", _ADDRESS, "an e-mail address"),
    "SNS_TOPIC_ARN": ("sns_topic_arn", _TOPIC_ARN, "an SNS topic ARN"),
    "ROLE_NAME": ("role_name", _ROLE_NAME, "an IAM role name"),
}
LISTS = {
    "ADMIN_EMAILS": ("admin_emails", _ADDRESS, "an e-mail address"),
    "EXEMPT_GROUPS": ("exempt_groups", _GROUP_NAME, "an IAM group name"),
    "EXCLUDE_ACCOUNT_IDS": ("exclude_account_ids", _ACCOUNT_ID, "a 12-digit account ID"),
    "ACCOUNT_IDS": ("account_ids", _ACCOUNT_ID, "a 12-digit account ID"),
}
VARIABLES = (*WHOLE_NUMBERS, *SWITCHES, *TEXTS, *LISTS)
VARIABLE_OF = {  # EnforceSettings field -> its variable
    **{field_name: name for name, (field_name, _, _) in WHOLE_NUMBERS.items()},
    **{field_name: name for name, field_name in SWITCHES.items()},
    **{field_name: name for name, (field_name, _, _) in (*TEXTS.items(), *LISTS.items())},
}


class SettingError(ValueError):
    """An environment variable (or the event) holds a value the run cannot use."""

    def __init__(self, variable: str, why: str, where: str = "environment variable") -> None:
        super().__init__(f"enforce-key-rotation: {where} {variable}: {why}")
        self.variable = variable


def settings_from(environ: Mapping[str, str], event: Any = None) -> EnforceSettings:
    """The run's settings; SettingError for the first variable that cannot be used."""
    values: dict[str, Any] = {}
    read = _Reader(environ)
    for name, (field_name, minimum, maximum) in WHOLE_NUMBERS.items():
        read.into(values, field_name, name, _whole_number, minimum=minimum, maximum=maximum)
    for name, field_name in SWITCHES.items():
        read.into(values, field_name, name, _switch)
    for name, (field_name, pattern, what) in TEXTS.items():
        read.into(values, field_name, name, _matching(pattern, what))
    for name, (field_name, pattern, what) in LISTS.items():
        read.into(values, field_name, name, _list_of(pattern, what))
    if _dry_run_asked(event):
        values["apply"] = False
    settings = EnforceSettings(**values)
    try:
        settings.check()  # the command's rules across options: the core's, in variables' names
    except SettingsConflict as error:
        raise SettingError(VARIABLE_OF[error.setting], error.why(_named)) from None
    return settings


def _named(setting: str) -> str:
    """A setting as a message names it: its variable, a switch with the value that breaks it."""
    return VARIABLE_OF[setting] + ("=true" if setting in SWITCHES.values() else "")


class _Reader:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def into(
        self,
        values: dict[str, Any],
        field_name: str,
        name: str,
        parse: Callable[..., T],
        **kwargs: Any,
    ) -> None:
        """Set ``values[field_name]`` from variable ``name``, unless it is unset or empty."""
        raw = self._environ.get(name, "").strip()
        if raw:
            try:
                values[field_name] = parse(raw, **kwargs)
            except ValueError as error:
                raise SettingError(name, str(error)) from None


def _whole_number(raw: str, minimum: int = 0, maximum: int | None = None) -> int:
    if not _WHOLE.fullmatch(raw):
        raise ValueError(f"{raw!r} is not a whole number")
    if maximum is not None and len(raw.lstrip("0")) > len(str(maximum)):  # before int(): 4300
        raise ValueError(f"must be {maximum} or less, not {raw[:20]}...")
    if int(raw) < minimum:
        raise ValueError(f"must be {minimum} or more, not {int(raw)}")
    if maximum is not None and int(raw) > maximum:
        raise ValueError(f"must be {maximum} or less, not {int(raw)}")
    return int(raw)


def _switch(raw: str) -> bool:
    if raw.lower() not in ("true", "false"):
        raise ValueError(f"{raw!r} is not true or false")
    return raw.lower() == "true"


def _matching(pattern: re.Pattern[str], what: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if not pattern.fullmatch(raw):
            raise ValueError(f"{raw!r} is not {what}")
        return raw

    return parse


def _list_of(pattern: re.Pattern[str], what: str) -> Callable[[str], tuple[str, ...]]:
    """Items separated by commas and/or spaces, each checked, duplicates dropped."""
    one = _matching(pattern, what)

    def parse(raw: str) -> tuple[str, ...]:
        items = [item for item in re.split(r"[,\s]+", raw) if item]
        return tuple(dict.fromkeys(one(item) for item in items))

    return parse


def _dry_run_asked(event: Any) -> bool:
    if not isinstance(event, Mapping) or "DryRun" not in event:
        return False
    if not isinstance(event["DryRun"], bool):
        why = f"{event['DryRun']!r} is not true or false"
        raise SettingError("DryRun", why, where="the invoking event's")
    return event["DryRun"]
