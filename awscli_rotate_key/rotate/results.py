"""What a run returns: plain dataclasses, rendered by the command layer as the CLI's output."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias


@dataclass
class Rotated:
    user_name: str
    old_key_id: str
    new_key_id: str
    old_key_status: str
    updated_profiles: list[str]
    updated_files: list[str]
    deleted_other_key_id: str | None = None
    recovered: dict[str, Any] | None = None

    def to_output(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Rotated": True,
            "UserName": self.user_name,
            "OldAccessKeyId": self.old_key_id,
            "NewAccessKeyId": self.new_key_id,
            "OldKeyStatus": self.old_key_status,
            "UpdatedProfiles": self.updated_profiles,
            "UpdatedFiles": self.updated_files,
        }
        if self.deleted_other_key_id:
            out["DeletedOtherAccessKeyId"] = self.deleted_other_key_id
        if self.recovered:
            out["Recovered"] = self.recovered
        return out


@dataclass
class NotDue:
    access_key_id: str
    age_days: int
    older_than: int
    recovered: dict[str, Any] | None = None

    def to_output(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Rotated": False,
            "Reason": "NotDue",
            "AccessKeyId": self.access_key_id,
            "AgeDays": self.age_days,
            "OlderThan": self.older_than,
        }
        if self.recovered:
            out["Recovered"] = self.recovered
        return out


@dataclass
class DryRun:
    user_name: str
    access_key_id: str
    age_days: int
    profiles: list[str]
    files: list[str]
    other_key: dict[str, Any] | None
    pending_recovery: dict[str, Any] | None = None
    due: bool = True

    def to_output(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Rotated": False,
            "DryRun": True,
            "UserName": self.user_name,
            "AccessKeyId": self.access_key_id,
            "AgeDays": self.age_days,
            "Due": self.due,
            "Profiles": self.profiles,
            "Files": self.files,
            "OtherKey": self.other_key,
        }
        if self.pending_recovery:
            out["PendingRecovery"] = self.pending_recovery
        return out


Result: TypeAlias = Rotated | NotDue | DryRun
