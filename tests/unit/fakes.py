"""Fakes for the rotation core: an IAM world with scripted faults, a clock and a reporter.

``FakeIam`` models IAM as the rotation sees it: users with at most two keys, statuses, create
dates, and requests *signed* by one key (``iam_for(credentials)`` gives a port acting as that
key's user). Unknown, deleted, Inactive or wrongly-signed keys are rejected the way IAM rejects
them, and rights removed with ``deny`` answer AccessDenied before any lookup (so the rights
checks on ``PROBE_KEY_ID`` see them; hooks and faults skip those checks unless asked). Every call
is logged as ``Call(operation, signer, target)`` before it is checked, so tests
can assert the order of calls and which key signed each one.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from awscli_rotate_key.errors import IamError
from awscli_rotate_key.keys import AccessKey
from awscli_rotate_key.rotate.profiles import Credentials
from awscli_rotate_key.rotate.rights import PROBE_KEY_ID
from awscli_rotate_key.rotate.rotation import ACTIVE, User

ACCOUNT = "123456789012"
START = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone.utc)
MUTATING = frozenset({"CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey"})


class FakeClock:
    """``monotonic`` and ``now`` advance only through ``sleep``; no real time passes."""

    def __init__(self, now: dt.datetime = START) -> None:
        self.seconds = 1000.0
        self.start = now
        self.sleeps: list[float] = []
        self.on_sleep: Callable[[int], None] | None = None  # called with the sleep's index

    def monotonic(self) -> float:
        return self.seconds

    def now(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=self.seconds - 1000.0)

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        if self.on_sleep is not None:
            self.on_sleep(len(self.sleeps) - 1)
        self.seconds += seconds


@dataclass
class RecordingReporter:
    steps: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    waits: int = 0

    def step(self, message: str) -> None:
        self.steps.append(message)

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def waiting(self) -> None:
        self.waits += 1


@dataclass(frozen=True)
class Call:
    operation: str
    signer: str
    target: str | None = None  # the key acted on, with ":Status" for UpdateAccessKey


@dataclass
class FakeKey:
    key_id: str
    secret: str
    user: str
    status: str
    created: dt.datetime
    last_used: str = "never"
    rejections_left: int = 0  # calls it signs that fail before IAM "sees" it


@dataclass
class Fault:
    """Make ``operation`` fail with ``code``; ``times=None`` means forever."""

    operation: str
    code: str
    times: int | None = 1
    signer: str | None = None  # only calls signed by this key
    ambiguous: bool = False
    after: bool = False  # the call takes effect, then the error is raised (an unanswered call)
    on_probe: bool = False  # also (or only, with times) the rights checks on PROBE_KEY_ID

    def matches(self, operation: str, signer: str, probe: bool = False) -> bool:
        live = self.times is None or self.times > 0
        wanted = operation == self.operation and self.signer in (None, signer)
        return live and wanted and (self.on_probe or not probe)


class FakeIam:
    """The IAM world: users, keys, a call log, scripted faults and hooks."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.users: dict[str, str] = {}  # name -> arn
        self.keys: dict[str, FakeKey] = {}
        self.log: list[Call] = []
        self.faults: list[Fault] = []
        self.new_key_rejections = 0  # each created key is rejected this many times first
        self.new_key_unlisted = 0  # each created key is missing from this many listings first
        self.before: dict[str, Callable[[Call], None]] = {}  # operation -> hook, before checks
        self.after: dict[str, Callable[[Call], None]] = {}  # operation -> hook, once it took effect
        self.created: list[str] = []  # key ids made by CreateAccessKey, in order
        self.unlisted: dict[str, int] = {}  # key id -> ListAccessKeys calls that do not show it
        self.denied: set[tuple[str, str]] = set()  # (user, operation) the policy does not allow
        self._ids = itertools.count(1)

    # -- building the world -------------------------------------------------------------------
    def add_user(self, name: str, root: bool = False) -> str:
        self.users[name] = f"arn:aws:iam::{ACCOUNT}:" + ("root" if root else f"user/{name}")
        return name

    def add_key(
        self, user: str, age_days: float = 100, status: str = ACTIVE, last_used: str = "never"
    ) -> Credentials:
        created = self.clock.now() - dt.timedelta(days=age_days)
        key = self._new_key(user, created, status)
        key.last_used = last_used
        return Credentials(key.key_id, key.secret)

    def _new_key(self, user: str, created: dt.datetime, status: str = ACTIVE) -> FakeKey:
        if len(self.keys_of(user)) >= 2:
            raise IamError("CreateAccessKey", "LimitExceeded", "Cannot exceed quota for keys")
        n = next(self._ids)
        key_id = f"AKIAFAKE{n:012d}"
        key = FakeKey(key_id, f"secret/{n:04d}/{key_id.lower()}+Zz", user, status, created)
        self.keys[key_id] = key
        return key

    def fail(self, operation: str, code: str, **kwargs: object) -> Fault:
        fault = Fault(operation, code, **kwargs)  # type: ignore[arg-type]
        self.faults.append(fault)
        return fault

    # -- reading the world --------------------------------------------------------------------
    def keys_of(self, user: str) -> list[FakeKey]:
        return [k for k in self.keys.values() if k.user == user]

    def status(self, key_id: str) -> str:
        return self.keys[key_id].status if key_id in self.keys else "Deleted"

    def calls(self, *operations: str) -> list[Call]:
        """The rotation's calls (the rights checks are in ``probes``)."""
        return [
            c
            for c in self.log
            if (not operations or c.operation in operations) and not is_probe(c.target)
        ]

    def mutations(self) -> list[Call]:
        """Calls that may change a key (not the rights checks on a key that cannot exist)."""
        return [c for c in self.log if c.operation in MUTATING and not is_probe(c.target)]

    def probes(self) -> list[tuple[str, str]]:
        """(operation, signer) of the rights checks, in order."""
        return [(c.operation, c.signer) for c in self.log if is_probe(c.target)]

    def deny(self, user: str, *operations: str) -> None:
        """Remove rights from the user's policy: IAM answers AccessDenied before any lookup."""
        self.denied.update((user, op) for op in operations)

    def iam_for(self, credentials: Credentials) -> FakeIamPort:
        return FakeIamPort(self, credentials)

    # -- serving a call -----------------------------------------------------------------------
    def authenticate(self, operation: str, credentials: Credentials, target: str | None) -> str:
        """Log the call, run its hook and faults, check the signature; return the user."""
        call = Call(operation, credentials.access_key_id, target)
        self.log.append(call)
        hook = self.before.get(operation)
        if hook is not None and not is_probe(target):  # hooks model the rotation's own steps
            hook(call)
        key = self.keys.get(credentials.access_key_id)
        if key is None or key.status != ACTIVE:
            raise IamError(operation, "InvalidClientTokenId", "The security token is invalid")
        if key.rejections_left > 0:
            key.rejections_left -= 1
            raise IamError(operation, "InvalidClientTokenId", "The security token is invalid")
        if key.secret != credentials.secret_access_key:
            raise IamError(operation, "SignatureDoesNotMatch", "Signature does not match")
        return key.user

    def fault_for(self, operation: str, signer: str, probe: bool = False) -> Fault | None:
        for fault in self.faults:
            if fault.matches(operation, signer, probe):
                if fault.times is not None:
                    fault.times -= 1
                return fault
        return None


def is_probe(target: str | None) -> bool:
    return target is not None and target.split(":")[0] == PROBE_KEY_ID


def _raise(fault: Fault) -> None:
    raise IamError(fault.operation, fault.code, "scripted fault", ambiguous=fault.ambiguous)


class FakeIamPort:
    """One signing key's view of IAM: every call acts on that key's own user."""

    def __init__(self, world: FakeIam, credentials: Credentials) -> None:
        self.world = world
        self.credentials = credentials

    def _call(self, operation: str, target: str | None = None) -> tuple[str, Fault | None]:
        user = self.world.authenticate(operation, self.credentials, target)
        signer = self.credentials.access_key_id
        fault = self.world.fault_for(operation, signer, is_probe(target))
        if fault is not None and not fault.after:
            _raise(fault)
        if (user, operation) in self.world.denied:  # authorized before any lookup, as IAM does
            raise IamError(operation, "AccessDenied", f"not authorized to perform iam:{operation}")
        return user, fault

    def _after(self, operation: str, target: str | None = None) -> None:
        hook = self.world.after.get(operation)
        if hook is not None:
            hook(Call(operation, self.credentials.access_key_id, target))

    def _own_key(self, operation: str, user: str, key_id: str) -> FakeKey:
        key = self.world.keys.get(key_id)
        if key is None or key.user != user:
            raise IamError(operation, "NoSuchEntity", f"The Access Key with id {key_id} not found")
        return key

    def get_user(self) -> User:
        user, _ = self._call("GetUser")
        return User(user, self.world.users[user])

    def list_access_keys(self) -> list[AccessKey]:
        user, _ = self._call("ListAccessKeys")
        listed = []
        for k in self.world.keys_of(user):
            if self.world.unlisted.get(k.key_id, 0) > 0:  # eventual consistency
                self.world.unlisted[k.key_id] -= 1
                continue
            listed.append(AccessKey(k.key_id, k.status, k.created))
        self._after("ListAccessKeys")
        return listed

    def create_access_key(self) -> Credentials:
        user, fault = self._call("CreateAccessKey")
        key = self.world._new_key(user, self.world.clock.now())
        self.world.created.append(key.key_id)
        key.rejections_left = self.world.new_key_rejections
        if self.world.new_key_unlisted:
            self.world.unlisted[key.key_id] = self.world.new_key_unlisted
        self._after("CreateAccessKey", key.key_id)
        if fault is not None:
            _raise(fault)
        return Credentials(key.key_id, key.secret)

    def update_access_key(self, key_id: str, status: str) -> None:
        user, fault = self._call("UpdateAccessKey", f"{key_id}:{status}")
        self._own_key("UpdateAccessKey", user, key_id).status = status
        self._after("UpdateAccessKey", f"{key_id}:{status}")
        if fault is not None:
            _raise(fault)

    def delete_access_key(self, key_id: str) -> None:
        user, fault = self._call("DeleteAccessKey", key_id)
        self._own_key("DeleteAccessKey", user, key_id)
        del self.world.keys[key_id]
        self._after("DeleteAccessKey", key_id)
        if fault is not None:
            _raise(fault)

    def last_used(self, key_id: str) -> str:
        user, _ = self._call("GetAccessKeyLastUsed", key_id)
        return self._own_key("GetAccessKeyLastUsed", user, key_id).last_used
