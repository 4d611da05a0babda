"""An IAM access key as ListAccessKeys shows it: shared by the rotation and the audit."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class AccessKey:
    access_key_id: str
    status: str
    create_date: dt.datetime
