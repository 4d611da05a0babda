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
    retirement_rights: dict[str, str] | None = None  # {"UpdateAccessKey": "Allowed", ...}

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
            "RetirementRights": self.retirement_rights,
        }
        if self.pending_recovery:
            out["PendingRecovery"] = self.pending_recovery
        return out


@dataclass
class Undone:
    """``--undo``: the kept old key is back in the files and Active; the new key is gone."""

    user_name: str
    restored_key_id: str
    deleted_key_id: str
    updated_profiles: list[str]
    updated_files: list[str]
    recovered: dict[str, Any] | None = None

    def to_output(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Undone": True,
            "UserName": self.user_name,
            "RestoredAccessKeyId": self.restored_key_id,
            "DeletedAccessKeyId": self.deleted_key_id,
            "UpdatedProfiles": self.updated_profiles,
            "UpdatedFiles": self.updated_files,
        }
        if self.recovered:
            out["Recovered"] = self.recovered
        return out


@dataclass
class UndoPlan:
    """``--undo --dry-run``: what the undo would do."""

    user_name: str
    restore_key_id: str
    delete_key_id: str
    profiles: list[str]
    files: list[str]
    pending_recovery: dict[str, Any] | None = None
    retirement_rights: dict[str, str] | None = None  # asked signed by the key in the files

    def to_output(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Undone": False,
            "DryRun": True,
            "UserName": self.user_name,
            "RestoreAccessKeyId": self.restore_key_id,
            "DeleteAccessKeyId": self.delete_key_id,
            "Profiles": self.profiles,
            "Files": self.files,
        }
        if self.retirement_rights is not None:
            out["RetirementRights"] = self.retirement_rights
        if self.pending_recovery:
            out["PendingRecovery"] = self.pending_recovery
        return out


Result: TypeAlias = Rotated | NotDue | DryRun | Undone | UndoPlan
