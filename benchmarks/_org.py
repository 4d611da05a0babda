"""An organization seeded for ``enforce-key-rotation``: a stated mix of keys, and its reseeding.

Runs in the moto child of ``enforce_scale.py``, building users, keys and tags directly in moto's
backend. The mix is drawn with ``random.Random(seed)`` from exact shares, so a seed always
gives the same organization and the same counts:

- users: 10 % without a key, 60 % with one, 30 % with two (the second one young and Active);
- of all keys: 10 % due a reminder (half never reminded, aged 91-119 days; half reminded 8-30
  days ago, their DisableDate still ahead), 5 % due to be disabled (aged 121-400 days, reminded
  8-30 days ago, their announced DisableDate passed), 2 % of an exempt user (aged 91-400 days,
  the user's exemption tag 30-170 days ahead);
- every other key: Active and younger than 90 days, or (one in ten) Inactive of any age;
- every user has an ``email`` tag: 80 % an address of their own, 20 % one of 20 team addresses
  shared across the organization (one e-mail per address per run).

``--apply`` disables keys, writes tags and sends mail: ``restore`` puts every key status and user
tag back as seeded and forgets the mail, so each benchmark round does the same work.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from awscli_rotate_key.admin.statetag import STATE_TAG, KeyState, format_state
from tests.support.audit_fixtures import Account

REMIND_DAYS, DISABLE_DAYS, GRACE_DAYS = 90, 120, 7
EMAIL_TAG, EXEMPT_TAG = "email", "key-rotation-exempt"
SHARES = {"REMIND": 0.10, "DISABLE": 0.05, "EXEMPT": 0.02}


@dataclass
class KeySeed:
    kind: str  # REMIND, DISABLE, EXEMPT, or OK (nothing to do)
    age_days: int
    status: str = "Active"
    reminded_days_ago: int | None = None  # a reminder recorded in the state tag
    key: Any = None  # moto's AccessKey, once made


@dataclass
class UserSeed:
    name: str
    email: str
    keys: list[KeySeed] = field(default_factory=list)
    exempt_until: dt.date | None = None
    arn: str = ""


def draw(accounts: int, users: int, seed: int) -> list[list[UserSeed]]:
    """The mix for ``accounts`` x ``users`` users, as one list of users per account."""
    rng = random.Random(seed)
    slots = [(a, u) for a in range(accounts) for u in range(users)]
    rng.shuffle(slots)
    no_key, two_keys = round(0.1 * len(slots)), round(0.3 * len(slots))
    layout = {slot: 0 for slot in slots[:no_key]}
    layout.update({slot: 2 for slot in slots[no_key : no_key + two_keys]})
    holders = slots[no_key:]  # shuffled: the first of them get the kinds of SHARES
    total_keys = len(holders) + two_keys
    kinds: list[str] = []
    for kind, share in SHARES.items():
        kinds += [kind] * round(share * total_keys)
    kind_of = dict(zip(holders, kinds, strict=False))  # the rest: OK
    return [
        [_user(rng, a, u, layout.get((a, u), 1), kind_of.get((a, u), "OK")) for u in range(users)]
        for a in range(accounts)
    ]


def _user(rng: random.Random, account: int, index: int, keys: int, kind: str) -> UserSeed:
    name = f"user-{index:05d}"
    own = rng.random() >= 0.2
    email = f"{name}.a{account}@example.com" if own else f"team-{rng.randrange(20):02d}@example.com"
    user = UserSeed(name, email)
    if keys:
        user.keys.append(_first_key(rng, kind))
    if keys == 2:
        user.keys.append(KeySeed("OK", rng.randrange(0, 60)))
    if kind == "EXEMPT":
        user.exempt_until = dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(
            days=rng.randrange(30, 171)
        )
    return user


def _first_key(rng: random.Random, kind: str) -> KeySeed:
    if kind == "REMIND" and rng.random() < 0.5:
        return KeySeed(kind, rng.randrange(REMIND_DAYS + 1, DISABLE_DAYS))
    if kind == "REMIND":
        return KeySeed(
            kind, rng.randrange(100, DISABLE_DAYS), reminded_days_ago=rng.randrange(8, 31)
        )
    if kind == "DISABLE":
        age = rng.randrange(DISABLE_DAYS + 1, 401)
        return KeySeed(kind, age, reminded_days_ago=rng.randrange(GRACE_DAYS + 1, 31))
    if kind == "EXEMPT":
        return KeySeed(kind, rng.randrange(REMIND_DAYS + 1, 401))
    if rng.random() < 0.1:
        return KeySeed(kind, rng.randrange(0, 401), status="Inactive")
    return KeySeed(kind, rng.randrange(0, REMIND_DAYS))


def expected(mix: list[list[UserSeed]]) -> Counter[str]:
    """How many keys of each kind the mix holds, and the keys and users in all."""
    counts = Counter(key.kind for users in mix for user in users for key in user.keys)
    counts["Keys"] = sum(len(user.keys) for users in mix for user in users)
    counts["Users"] = sum(len(users) for users in mix)
    return counts


# --- into moto's backend ------------------------------------------------------------------------


def build(account: Account, users: list[UserSeed]) -> None:
    """Make the users and their keys (backdated by half a day past whole days) in the backend."""
    for user in users:
        account.user(user.name)
        user.arn = account.backend.get_user(user.name).arn
        for seed in user.keys:
            key_id = account.key(user.name, seed.age_days + 0.5, seed.status)
            made = account.backend.users[user.name].access_keys
            seed.key = next(k for k in made if k.access_key_id == key_id)
    restore(account, users)


def restore(account: Account, users: list[UserSeed]) -> Counter[str]:
    """Put every key status and user tag back as seeded; count what the run had changed."""
    changed: Counter[str] = Counter()
    tagger = account.backend.tagger
    for user in users:
        tags = seeded_tags(user)
        if tagger.list_tags_for_resource(user.arn)["Tags"] != tags:
            changed["users retagged"] += 1
        tagger.delete_all_tags_for_resource(user.arn)
        tagger.tag_resource(user.arn, tags)
        for seed in user.keys:
            if seed.key.status != seed.status:
                changed[f"keys made {seed.key.status}"] += 1
            seed.key.status = seed.status
    return changed


def seeded_tags(user: UserSeed) -> list[dict[str, str]]:
    tags = [{"Key": EMAIL_TAG, "Value": user.email}]
    if user.exempt_until:
        tags.append({"Key": EXEMPT_TAG, "Value": user.exempt_until.isoformat()})
    reminded = [seed for seed in user.keys if seed.reminded_days_ago is not None]
    if reminded:
        tags += state_tags(reminded)
    return tags


def state_tags(keys: list[KeySeed]) -> list[dict[str, str]]:
    """The state tag (enforcement's own format) for keys already reminded."""
    today = dt.datetime.now(dt.timezone.utc).date()
    states = {}
    for seed in keys:
        assert seed.reminded_days_ago is not None
        reminded = today - dt.timedelta(days=seed.reminded_days_ago)
        created = seed.key.create_date.date()
        disable = max(created + dt.timedelta(DISABLE_DAYS), reminded + dt.timedelta(GRACE_DAYS))
        states[seed.key.access_key_id] = KeyState(last_reminded=reminded, disable_date=disable)
    return [{"Key": STATE_TAG, "Value": format_state(states)}]
