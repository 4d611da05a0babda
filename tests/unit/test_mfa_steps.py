"""The MFA session as a step of the rotation, against fakes (h9-mfa's tests drive the real CLI).

``MfaIam`` plays AWS's "manage your own credentials with MFA" policy in front of ``FakeIam``:
a call signed by a bare key may only be GetUser (any other answers AccessDenied), a call signed
by a session goes through as its parent key's. ``dies_with_parent`` models the answer AWS does
not document: whether a session stops working once its parent key is Inactive or deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from awscli_rotate_key.errors import IamError, Refused, RolledBack
from awscli_rotate_key.keys import AccessKey
from awscli_rotate_key.rotate.journal import SAVED
from awscli_rotate_key.rotate.profiles import Credentials, KeySource
from awscli_rotate_key.rotate.prove import KeyNeverWorked
from awscli_rotate_key.rotate.results import DryRun, NotDue, Rotated
from awscli_rotate_key.rotate.rotation import ACTIVE, DELETED, INACTIVE, Options, Steps, User
from awscli_rotate_key.rotate.sequence import rotate_my_key
from tests.unit.fakes import FakeIam, FakeIamPort, is_probe
from tests.unit.test_rotation import Home, make_home

DEVICE = "arn:aws:iam::123456789012:mfa/alice"


@dataclass
class FakeMfa:
    """MfaSessions: one code per run; ``refuse`` plays no TTY/no --token-code or a bad code."""

    world: MfaIam
    device: str = DEVICE
    refuse: bool = False
    opened: list[str] = field(default_factory=list)

    def open(self, key: Credentials) -> Credentials:
        self.world.log.append(("GetSessionToken", f"key:{key.access_key_id}", None))
        if self.refuse:
            raise Refused("no MFA code (give --token-code); nothing was changed")
        self.opened.append(key.access_key_id)
        return self.world.session_of(key)


@dataclass
class MfaIam:
    iam: FakeIam
    dies_with_parent: bool = False
    log: list[tuple[str, str, str | None]] = field(default_factory=list)
    _parents: dict[str, Credentials] = field(default_factory=dict)

    def session_of(self, key: Credentials) -> Credentials:
        session = Credentials(f"ASIA{key.access_key_id[4:]}", "s", f"token/{key.access_key_id}")
        self._parents[session.access_key_id] = key
        return session

    def iam_for(self, credentials: Credentials) -> object:
        if credentials.session_token is not None:
            return _Signed(self, FakeIamPort(self.iam, self._parents[credentials.access_key_id]))
        return _Signed(self, FakeIamPort(self.iam, credentials), bare=True)

    def ops(self, *operations: str) -> list[tuple[str, str, str | None]]:
        return [op for op in self.log if not operations or op[0] in operations]


class _Signed:
    """One port: a session's (``bare=False``) or a bare key's, under the MFA policy."""

    def __init__(self, world: MfaIam, port: FakeIamPort, bare: bool = False) -> None:
        self.world, self.port, self.bare = world, port, bare

    def _check(self, operation: str, target: str | None = None) -> None:
        parent = self.port.credentials.access_key_id
        signer = f"key:{parent}" if self.bare else f"session:{parent}"
        if not is_probe(target):
            self.world.log.append((operation, signer, target))
        if self.bare and operation != "GetUser":
            self.port.get_user()  # an unknown key is refused as such first
            raise IamError(operation, "AccessDenied", "explicit deny: MFA required")
        parent_key = self.world.iam.keys.get(parent)
        dead = parent_key is None or parent_key.status != ACTIVE
        if not self.bare and self.world.dies_with_parent and dead:
            raise IamError(operation, "InvalidClientTokenId", "session of a retired key")

    def get_user(self) -> User:
        self._check("GetUser")
        return self.port.get_user()

    def list_access_keys(self) -> list[AccessKey]:
        self._check("ListAccessKeys")
        return self.port.list_access_keys()

    def create_access_key(self) -> Credentials:
        self._check("CreateAccessKey")
        return self.port.create_access_key()

    def update_access_key(self, key_id: str, status: str) -> None:
        self._check("UpdateAccessKey", f"{key_id}:{status}")
        self.port.update_access_key(key_id, status)

    def delete_access_key(self, key_id: str) -> None:
        self._check("DeleteAccessKey", key_id)
        self.port.delete_access_key(key_id)

    def last_used(self, key_id: str) -> str:
        self._check("GetAccessKeyLastUsed", key_id)
        return self.port.last_used(key_id)


@dataclass
class MfaHome:
    home: Home
    world: MfaIam
    mfa: FakeMfa

    def steps(self) -> Steps:
        steps = self.home.steps()
        steps.iam_for = self.world.iam_for  # type: ignore[assignment]
        steps.mfa = self.mfa
        return steps

    def run(self, **options: object) -> object:
        options.setdefault("wait_timeout", 30.0)
        source = KeySource("default", "default", ("default",))
        return rotate_my_key(self.steps(), source, Options(**options))  # type: ignore[arg-type]


@pytest.fixture(params=[False, True], ids=["session-outlives-its-key", "session-dies-with-its-key"])
def mfa_home(request: pytest.FixtureRequest, tmp_path: Path) -> MfaHome:
    home = make_home(tmp_path)
    world = MfaIam(home.iam, dies_with_parent=request.param)
    return MfaHome(home, world, FakeMfa(world))


def test_an_mfa_rotation_does_every_key_action_through_the_session_of_the_old_key(
    mfa_home: MfaHome,
) -> None:
    old = mfa_home.home.old.access_key_id

    result = mfa_home.run()

    assert isinstance(result, Rotated)
    new = result.new_key_id
    log = mfa_home.world.log
    assert log[0] == ("GetSessionToken", f"key:{old}", None)  # first, before any IAM call
    assert mfa_home.mfa.opened == [old]  # one session, one code
    managing = [op for op in log if op[0] not in ("GetSessionToken", "GetUser")]
    assert {signer for _, signer, _ in managing} == {f"session:{old}"}
    # Proven by GetUser signed by the new key, twice; then one DeleteAccessKey, no deactivation.
    assert [op for op in log if op[1] == f"key:{new}"] == [("GetUser", f"key:{new}", None)] * 2
    last_proof = len(log) - log[::-1].index(("GetUser", f"key:{new}", None))
    assert log[last_proof:] == [("DeleteAccessKey", f"session:{old}", old)]
    assert mfa_home.world.ops("UpdateAccessKey") == []
    assert mfa_home.home.iam.status(old) == DELETED
    assert mfa_home.home.in_flight() == set()


def test_with_no_delete_the_deactivation_is_the_last_call_through_the_session(
    mfa_home: MfaHome,
) -> None:
    old = mfa_home.home.old.access_key_id

    result = mfa_home.run(delete=False)

    assert isinstance(result, Rotated) and result.old_key_status == INACTIVE
    assert mfa_home.world.log[-1] == ("UpdateAccessKey", f"session:{old}", f"{old}:{INACTIVE}")
    assert mfa_home.world.ops("DeleteAccessKey") == []


def test_the_rights_check_and_a_key_not_due_go_through_the_session_too(
    mfa_home: MfaHome,
) -> None:
    old = mfa_home.home.old.access_key_id

    assert isinstance(mfa_home.run(older_than=365), NotDue)  # a code even when not due

    assert mfa_home.mfa.opened == [old]
    assert mfa_home.world.ops("ListAccessKeys") == [("ListAccessKeys", f"session:{old}", None)]
    probes = [c for c in mfa_home.home.iam.log if is_probe(c.target)]
    assert probes == []  # not due: no rights check
    mfa_home.world.log.clear()
    plan = mfa_home.run(dry_run=True)
    assert isinstance(plan, DryRun)
    assert plan.retirement_rights == {"UpdateAccessKey": "Allowed", "DeleteAccessKey": "Allowed"}


def test_without_a_code_the_run_refuses_before_any_iam_call(mfa_home: MfaHome) -> None:
    mfa_home.mfa.refuse = True
    before = mfa_home.home.profile_files()

    with pytest.raises(Refused) as refused:
        mfa_home.run()

    assert refused.value.exit_code == 3
    assert mfa_home.home.iam.log == []
    assert mfa_home.home.profile_files() == before
    assert mfa_home.home.in_flight() == set()


def test_a_new_key_never_known_to_iam_is_undone_through_the_session(mfa_home: MfaHome) -> None:
    """InvalidClientTokenId does not count as a proof; the undo deletes the key via the session."""
    mfa_home.home.iam.new_key_rejections = 1000
    old = mfa_home.home.old.access_key_id

    with pytest.raises(RolledBack):
        mfa_home.run(wait_timeout=5.0)

    (new,) = mfa_home.home.iam.created
    assert mfa_home.world.ops("DeleteAccessKey") == [("DeleteAccessKey", f"session:{old}", new)]
    assert mfa_home.home.key_of().access_key_id == old
    assert mfa_home.home.iam.status(new) == DELETED


def test_an_access_denied_proof_counts_as_iam_knowing_the_key(mfa_home: MfaHome) -> None:
    steps = mfa_home.steps()
    new = mfa_home.home.iam.add_key("alice", age_days=0)
    mfa_home.home.iam.deny("alice", "GetUser")  # a policy without iam:GetUser
    steps.wait_until_key_works(steps.iam_for(new), steps.monotonic() + 5)  # does not raise
    assert mfa_home.world.ops("GetUser")[-2:] == [("GetUser", f"key:{new.access_key_id}", None)] * 2
    unknown = Credentials("AKIAUNKNOWNUNKNOWN01", "x")
    with pytest.raises(KeyNeverWorked):  # InvalidClientTokenId, to the end of the wait
        steps.wait_until_key_works(steps.iam_for(unknown), steps.monotonic() + 5)


def test_a_refused_deletion_is_undone_while_the_old_key_is_still_active(
    mfa_home: MfaHome,
) -> None:
    old = mfa_home.home.old.access_key_id
    mfa_home.home.iam.fail("DeleteAccessKey", "AccessDenied", signer=old)

    with pytest.raises(RolledBack):
        mfa_home.run()

    (new,) = mfa_home.home.iam.created
    assert mfa_home.home.iam.status(old) == ACTIVE
    assert mfa_home.home.iam.status(new) == DELETED
    assert mfa_home.home.key_of().access_key_id == old
    assert mfa_home.world.ops("UpdateAccessKey") == []  # nothing to reactivate


def test_a_crash_mid_rotation_is_finished_with_a_new_session_of_the_new_key(
    mfa_home: MfaHome,
) -> None:
    """The next run opens a session from what the files hold (a new code), then retires."""
    old = mfa_home.home.old.access_key_id

    class Killed(BaseException):
        pass

    def die(call: object) -> None:
        mfa_home.home.iam.before.clear()
        raise Killed

    mfa_home.home.iam.before["GetUser"] = lambda call: (
        die(call) if call.signer not in (old,) else None
    )
    with pytest.raises(Killed):
        mfa_home.run()  # killed while proving: the files hold the new key, journal SAVED
    new = mfa_home.home.key_of().access_key_id
    assert new != old and mfa_home.home.record().step == SAVED

    again = FakeMfa(mfa_home.world)
    mfa_home.mfa = again
    result = mfa_home.run()

    assert isinstance(result, Rotated) and result.recovered is not None
    assert result.recovered["Action"] == "Completed"
    assert again.opened == [new]  # a new session, of the key the files hold now
    assert mfa_home.home.iam.status(old) == DELETED
    assert mfa_home.world.log[-1] == ("DeleteAccessKey", f"session:{new}", old)


def test_a_crash_mid_rotation_without_a_new_code_retries_nothing(mfa_home: MfaHome) -> None:
    old = mfa_home.home.old.access_key_id

    class Killed(BaseException):
        pass

    def die(call: object) -> None:
        mfa_home.home.iam.before.clear()
        raise Killed

    mfa_home.home.iam.before["DeleteAccessKey"] = die
    with pytest.raises(Killed):
        mfa_home.run()
    calls = len(mfa_home.home.iam.log)
    mfa_home.mfa = FakeMfa(mfa_home.world, refuse=True)

    with pytest.raises(Refused):
        mfa_home.run()

    assert len(mfa_home.home.iam.log) == calls  # no IAM call without a session
    assert mfa_home.home.iam.status(old) == ACTIVE
    assert mfa_home.home.in_flight() != set()  # still journaled for a run with a code


def test_without_mfa_nothing_changes(tmp_path: Path) -> None:
    """Steps.mfa None: the old key signs, the new key retires (as before this change)."""
    home = make_home(tmp_path)
    result = home.run()
    assert isinstance(result, Rotated)
    retire = home.iam.calls("UpdateAccessKey", "DeleteAccessKey")
    assert {c.signer for c in retire} == {result.new_key_id}
    assert [c.operation for c in retire] == ["UpdateAccessKey", "DeleteAccessKey"]
