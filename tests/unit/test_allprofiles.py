"""--all-profiles (rotate/allprofiles.py): which keys, each once, each independently."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from awscli_rotate_key.errors import IamError, RolledBack
from awscli_rotate_key.rotate.allprofiles import RunInterrupted, rotate_all_profiles, worst
from awscli_rotate_key.rotate.allprofiles_keys import KeyHolders, MfaCodes, keys_in_files
from awscli_rotate_key.rotate.journal import Journal
from awscli_rotate_key.rotate.profiles import Credentials, KeySource, ProfileFiles
from awscli_rotate_key.rotate.results import NotDue, Result
from awscli_rotate_key.rotate.rotation import Options, Steps
from awscli_rotate_key.rotate.sequence import rotate_my_key
from tests.unit.fakes import FakeClock, FakeIam, RecordingReporter


@dataclass
class World:
    aws: Path
    clock: FakeClock
    iam: FakeIam
    reporter: RecordingReporter
    files: ProfileFiles

    def steps(self) -> Steps:
        return Steps(
            files=self.files,
            journal=Journal(str(self.aws)),
            iam_for=self.iam.iam_for,
            reporter=self.reporter,
            now=self.clock.now,
            sleep=self.clock.sleep,
            monotonic=self.clock.monotonic,
        )

    def add(self, profile: str, key: Credentials, where: str = "credentials", **extra: str) -> None:
        path = Path(self.files.credentials if where == "credentials" else self.files.config)
        header = profile if where == "credentials" or profile == "default" else f"profile {profile}"
        lines = [f"[{header}]", f"aws_access_key_id = {key.access_key_id}"]
        lines += [f"aws_secret_access_key = {key.secret_access_key}"]
        lines += [f"{k} = {v}" for k, v in extra.items()]
        path.write_text(path.read_text() + "\n".join(lines) + "\n")

    def run(self, rotate_one: Any = rotate_my_key, terminal: bool = False, **options: Any) -> Any:
        options.setdefault("wait_timeout", 30.0)
        return rotate_all_profiles(self.steps(), Options(**options), rotate_one, terminal)


@pytest.fixture
def world(tmp_path: Path) -> World:
    aws = tmp_path / ".aws"
    aws.mkdir()
    for name in ("credentials", "config"):
        (aws / name).write_text("")
        (aws / name).chmod(0o600)
    clock = FakeClock()
    files = ProfileFiles(str(aws / "credentials"), str(aws / "config"))
    return World(aws, clock, FakeIam(clock), RecordingReporter(), files)


def test_keys_in_files_each_key_once_the_credentials_file_wins(world: World) -> None:
    a = Credentials("AKIAAAAAAAAAAAAAAAA1", "a")
    b = Credentials("AKIABBBBBBBBBBBBBBB2", "b")
    world.add("alice", a)
    world.add("alice-copy", a, where="config")
    world.add("bob", b, where="config", mfa_serial="arn:aws:iam::1:mfa/bob")
    world.add("temp", Credentials("ASIATEMPTEMPTEMPTEMP", "t"), aws_session_token="tok")
    world.add("token", Credentials("AKIATOKENTOKENTOKEN3", "t"), aws_session_token="tok")
    # alice's config section has another key: botocore uses the credentials file's.
    world.add("alice", Credentials("AKIASHADOWSHADOWSHAD", "s"), where="config")

    assert keys_in_files(world.files) == [
        KeyHolders("AKIAAAAAAAAAAAAAAAA1", ("alice", "alice-copy")),
        KeyHolders("AKIABBBBBBBBBBBBBBB2", ("bob",), ("arn:aws:iam::1:mfa/bob",)),
    ]


def test_worst_exit_code_order() -> None:
    assert worst([]) == 0
    assert worst([0, 0]) == 0
    assert worst([0, 3, 0]) == 3
    assert worst([3, 4]) == 4
    assert worst([4, 5, 3]) == 5
    assert worst([5, 255, 0]) == 255
    assert worst([255, 130]) == 130


def test_a_shared_key_is_rotated_once_and_a_refusal_stops_only_its_key(world: World) -> None:
    world.iam.add_user("alice")
    world.iam.add_user("carol")
    shared = world.iam.add_key("alice")
    carols = world.iam.add_key("carol")
    world.iam.deny("carol", "UpdateAccessKey")
    world.add("alice", shared)
    world.add("carol", carols)
    world.add("alice-copy", shared, where="config")

    result = world.run()

    first, second = result.results
    assert first["Profiles"] == ["alice", "alice-copy"] and first["ExitCode"] == 0
    assert first["Rotated"] is True and first["UpdatedProfiles"] == ["alice", "alice-copy"]
    assert len(world.iam.created) == 1
    new = world.files.credentials_of("alice-copy").access_key_id
    assert new == world.iam.created[0] == first["NewAccessKeyId"]
    assert second["Profiles"] == ["carol"] and second["ExitCode"] == 3
    assert second["AccessKeyId"] == carols.access_key_id
    assert world.reporter.warnings[-1] == f"profile 'carol': {second['Error']}"
    assert all(w.startswith("profile 'alice': ") for w in world.reporter.warnings[:-1])
    assert result.exit_code == 3
    assert result.to_output() == {"Results": result.results}


def test_a_key_moved_by_an_earlier_rotation_is_not_rotated_again(world: World) -> None:
    world.iam.add_user("alice")
    a = world.iam.add_key("alice")
    b = world.iam.add_key("alice", age_days=10)
    world.add("laptop", a)
    world.add("ci", b)

    result = world.run(delete_other_key=True)

    (only,) = result.results  # b was deleted to make room; its profile moved onto the new key
    assert only["Profiles"] == ["laptop"] and only["DeletedOtherAccessKeyId"] == b.access_key_id
    assert sorted(only["UpdatedProfiles"]) == ["ci", "laptop"]
    assert len(world.iam.created) == 1


def test_every_failure_kind_is_a_result_and_the_run_goes_on(world: World) -> None:
    for n, profile in enumerate(("iam", "local", "rolled", "fine")):
        world.add(profile, Credentials(f"AKIA{profile.upper():0>16}"[:20], f"s{n}"))
    done: list[str] = []

    def rotate_one(steps: Steps, source: KeySource, options: Options) -> Result:
        done.append(source.profile)
        if source.profile == "iam":
            raise IamError("ListAccessKeys", "AccessDenied", "no.")
        if source.profile == "local":
            raise PermissionError(13, "Permission denied", "/x/credentials")
        if source.profile == "rolled":
            raise RolledBack("could not create a new key")
        steps.reporter.warn("a warning of the rotation")
        return NotDue(source.profile, 1, 90)

    result = world.run(rotate_one)

    assert done == ["iam", "local", "rolled", "fine"]
    codes = [(r["Profiles"], r["ExitCode"]) for r in result.results]
    assert codes == [(["iam"], 255), (["local"], 255), (["rolled"], 4), (["fine"], 0)]
    assert result.results[0]["Error"] == "ListAccessKeys: AccessDenied: no"
    assert "Permission denied: /x/credentials" in result.results[1]["Error"]
    assert result.exit_code == 255
    assert world.reporter.warnings[-1] == "profile 'fine': a warning of the rotation"


def test_an_interrupt_stops_the_whole_run(world: World) -> None:
    world.add("a", Credentials("AKIAAAAAAAAAAAAAAAA1", "a"))
    world.add("b", Credentials("AKIABBBBBBBBBBBBBBB2", "b"))
    done: list[str] = []

    def rotate_one(steps: Steps, source: KeySource, options: Options) -> Result:
        done.append(source.profile)
        raise KeyboardInterrupt

    with pytest.raises(RunInterrupted) as stopped:
        world.run(rotate_one)
    assert done == ["a"]
    (entry,) = stopped.value.done.results  # the key interrupted: reported, then the run stops
    assert entry["Profiles"] == ["a"] and entry["ExitCode"] == 130
    assert stopped.value.exit_code == 130


DEV1, DEV2 = "arn:aws:iam::123456789012:mfa/one", "arn:aws:iam::123456789012:mfa/two"


def mfa_world(world: World) -> None:
    world.add("one", Credentials("AKIAONEONEONEONEONE1", "1"), mfa_serial=DEV1)
    world.add("one-again", Credentials("AKIAONEAGAINONEAGAIN", "1"), mfa_serial=DEV1)
    world.add("two", Credentials("AKIATWOTWOTWOTWOTWO2", "2"), mfa_serial=DEV2)
    world.add("none", Credentials("AKIANONENONENONENONE", "3"))


def run_mfa(
    world: World, terminal: bool, serial: str | None = None, has_code: bool = True
) -> tuple[list[tuple[str, Any]], dict[str, Any]]:
    """Each rotation records its ``Steps.mfa``; sessions are made once per device."""
    done: list[tuple[str, Any]] = []
    made: list[tuple[str, bool]] = []

    def sessions_for(device: str, with_code: bool) -> tuple[str, bool]:
        made.append((device, with_code))
        return (device, with_code)

    def rotate_one(steps: Steps, source: KeySource, options: Options) -> Result:
        done.append((source.profile, steps.mfa))  # type: ignore[attr-defined]
        return NotDue(source.profile, 1, 90)

    codes = MfaCodes(sessions_for, serial, has_code)
    result = rotate_all_profiles(world.steps(), Options(), rotate_one, terminal, codes)
    assert len(made) == len(set(made))
    return done, {r["Profiles"][0]: r for r in result.results}


def test_without_a_terminal_only_the_device_of_the_token_code_rotates_once(world: World) -> None:
    mfa_world(world)

    done, results = run_mfa(world, terminal=False)  # the code: the first device in the files

    assert done == [("one", (DEV1, True)), ("none", None)]
    assert results["one-again"]["ExitCode"] == 3
    assert "already used in this run" in results["one-again"]["Error"]
    assert "--profile one-again --token-code CODE" in results["one-again"]["Error"]
    assert results["two"]["ExitCode"] == 3
    assert "stdin is not a terminal" in results["two"]["Error"]
    assert world.reporter.warnings[0] == f"profile 'one-again': {results['one-again']['Error']}"


def test_mfa_serial_names_the_device_of_the_token_code(world: World) -> None:
    mfa_world(world)
    done, results = run_mfa(world, terminal=False, serial=DEV2)
    assert done == [("two", (DEV2, True)), ("none", None)]
    assert [results[p]["ExitCode"] for p in ("one", "one-again")] == [3, 3]


def test_without_a_token_code_or_terminal_no_mfa_profile_rotates(world: World) -> None:
    mfa_world(world)
    done, results = run_mfa(world, terminal=False, has_code=False)
    assert done == [("none", None)]
    assert [r["ExitCode"] for r in results.values()] == [3, 3, 3, 0]


def test_with_a_terminal_each_device_once_the_others_asked_for(world: World) -> None:
    mfa_world(world)
    done, results = run_mfa(world, terminal=True)
    assert done == [("one", (DEV1, True)), ("two", (DEV2, False)), ("none", None)]
    assert results["one-again"]["ExitCode"] == 3
