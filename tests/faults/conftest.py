"""Helpers for the fault tests: a rotation set up with two profiles holding one key."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

from tests.support.cli import AwsHome
from tests.support.moto import Key, MotoServer

JOURNAL_FILES = ("rotate-my-key.journal.json", "rotate-my-key.rollback.json")


@dataclass
class World:
    moto: MotoServer
    home: AwsHome
    user: str
    old: Key

    def profile_keys(self) -> set[str | None]:
        return {self.home.profile_key(p)[0] for p in ("alice", "alice-cfg")}

    def assert_files_hold_an_active_key(self) -> str:
        """Invariant 1: at every instant the profile's files hold a key that exists, Active."""
        key_id, secret = self.home.profile_key("alice")
        assert key_id is not None and secret
        assert self.moto.keys(self.user).get(key_id) == "Active", (
            key_id,
            self.moto.keys(self.user),
        )
        return key_id

    def assert_clean_final_state(self) -> str:
        """Exactly one key, Active, in every profile that held the old one; no journal left."""
        keys = self.moto.keys(self.user)
        assert list(keys.values()) == ["Active"], keys
        (key_id,) = keys
        assert self.profile_keys() == {key_id}
        assert self.home.run("iam", "list-access-keys", "--profile", "alice").returncode == 0
        left = [f for f in os.listdir(self.home.root / ".aws") if f.startswith("rotate-my-key")]
        assert left == [], left
        return key_id

    def journal_exists(self) -> bool:
        return (self.home.root / ".aws" / JOURNAL_FILES[0]).exists()

    def known_keys(self) -> set[str]:
        return {self.old.access_key_id, self.moto.admin.access_key_id}


@pytest.fixture
def world(moto_server, proxied_home):  # type: ignore[no-untyped-def]
    user = moto_server.make_user()
    old = moto_server.make_key(user, age_days=120)
    proxied_home.add_profile("alice", old)
    proxied_home.add_profile("alice-cfg", old, where="config", region="us-east-1")
    return World(moto_server, proxied_home, user, old)
