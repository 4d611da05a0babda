"""rotate-my-key --all-profiles through the real `aws` (v1 and v2) against moto, signed."""

from __future__ import annotations

import copy

import pytest

from tests.support.moto import SELF_SERVICE_POLICY

ALL = ("iam", "rotate-my-key", "--all-profiles")


def policy_without(action: str) -> dict:  # type: ignore[type-arg]
    policy = copy.deepcopy(SELF_SERVICE_POLICY)
    policy["Statement"][0]["Action"].remove(f"iam:{action}")
    return policy


def three_keys(moto_server, home, shared_age=100, other_age=100):  # type: ignore[no-untyped-def]
    """``alice`` and ``alice-copy`` share one key; ``bob`` (config file) has his own; ``carol``
    may not deactivate keys (refused, exit 3); ``dave`` may not create one (rolled back, 4)."""
    alice = moto_server.make_user()
    shared = moto_server.make_key(alice, age_days=shared_age)
    bob = moto_server.make_user()
    bobs = moto_server.make_key(bob, age_days=other_age)
    carol = moto_server.make_user(policy=policy_without("UpdateAccessKey"))
    carols = moto_server.make_key(carol, age_days=100)
    dave = moto_server.make_user(policy=policy_without("CreateAccessKey"))
    daves = moto_server.make_key(dave, age_days=100)
    home.add_profile("alice", shared)
    home.add_profile("alice-copy", shared)
    home.add_profile("bob", bobs, where="config")
    home.add_profile("carol", carols)
    home.add_profile("dave", daves)
    return {"alice": (alice, shared), "bob": (bob, bobs), "carol": (carol, carols),
            "dave": (dave, daves)}  # fmt: skip


def by_profile(out):  # type: ignore[no-untyped-def]
    return {entry["Profiles"][0]: entry for entry in out["Results"]}


def test_every_key_once_each_independently_the_exit_code_is_the_worst(moto_server, aws_home):
    world = three_keys(moto_server, aws_home)
    # Environment credentials select and skip nothing (neither does AWS_PROFILE).
    aws_home.extra_env.update(
        AWS_ACCESS_KEY_ID=world["bob"][1].access_key_id,
        AWS_SECRET_ACCESS_KEY=world["bob"][1].secret_access_key,
        AWS_PROFILE="carol",
    )

    result = aws_home.run(*ALL)

    assert result.returncode == 4, result.stderr  # the worst: 4 (dave) over 3 (carol) over 0
    out = result.json
    assert list(out) == ["Results"] and len(out["Results"]) == 4
    results = by_profile(out)
    assert set(results) == {"alice", "bob", "carol", "dave"}
    alice = results["alice"]
    assert alice["Profiles"] == ["alice", "alice-copy"] and alice["ExitCode"] == 0
    assert alice["Rotated"] is True and alice["UpdatedProfiles"] == ["alice", "alice-copy"]
    new_id = alice["NewAccessKeyId"]
    assert aws_home.profile_key("alice")[0] == aws_home.profile_key("alice-copy")[0] == new_id
    assert moto_server.keys(world["alice"][0]) == {new_id: "Active"}  # rotated once, not twice
    assert results["bob"]["ExitCode"] == 0 and results["bob"]["Rotated"] is True
    assert aws_home.profile_key("bob")[0] == results["bob"]["NewAccessKeyId"]
    for name, code in (("carol", 3), ("dave", 4)):
        entry = results[name]
        user, key = world[name]
        assert entry["ExitCode"] == code and entry["AccessKeyId"] == key.access_key_id
        assert entry["Profiles"] == [name] and "Rotated" not in entry
        assert moto_server.keys(user) == {key.access_key_id: "Active"}
        assert aws_home.profile_key(name)[0] == key.access_key_id
        (line,) = [x for x in result.stderr.splitlines() if f"profile {name!r}" in x]
        assert line == f"rotate-my-key: profile {name!r}: {entry['Error']}"
    assert "does not allow iam:UpdateAccessKey" in results["carol"]["Error"]
    for secret in (k.secret_access_key for _, k in world.values()):
        assert secret not in result.stdout + result.stderr


def test_older_than_rotates_only_the_due_keys(moto_server, aws_home):
    world = three_keys(moto_server, aws_home, shared_age=100, other_age=10)

    result = aws_home.run(*ALL, "--older-than", "90")

    results = by_profile(result.json)
    assert result.returncode == 4, result.stderr
    assert results["alice"]["Rotated"] is True
    assert results["bob"] == {
        "Rotated": False,
        "Reason": "NotDue",
        "AccessKeyId": world["bob"][1].access_key_id,
        "AgeDays": 10,
        "OlderThan": 90,
        "Profiles": ["bob"],
        "ExitCode": 0,
    }
    assert moto_server.keys(world["bob"][0]) == {world["bob"][1].access_key_id: "Active"}


def test_all_rotated_exits_0_and_dry_run_changes_nothing(moto_server, aws_home):
    user = moto_server.make_user()
    key = moto_server.make_key(user, age_days=100)
    aws_home.add_profile("alice", key)
    aws_home.add_profile("alice-copy", key, where="config")

    plan = aws_home.run(*ALL, "--dry-run")
    assert plan.returncode == 0, plan.stderr
    (entry,) = plan.json["Results"]
    assert entry["DryRun"] is True and entry["Profiles"] == ["alice", "alice-copy"]
    assert moto_server.keys(user) == {key.access_key_id: "Active"}

    result = aws_home.run(*ALL)
    assert result.returncode == 0, result.stderr
    (entry,) = result.json["Results"]
    assert entry["ExitCode"] == 0 and entry["Rotated"] is True


@pytest.mark.parametrize("output", ["table", "text"])
def test_table_and_text_output(moto_server, aws_home, output):
    world = three_keys(moto_server, aws_home)

    result = aws_home.run(*ALL, "--output", output)

    assert result.returncode == 4, result.stderr
    assert world["carol"][1].access_key_id in result.stdout
    assert aws_home.profile_key("alice")[0] in result.stdout  # the new key's ID
    if output == "table":
        assert "Results" in result.stdout and "ExitCode" in result.stdout


@pytest.mark.parametrize("other", [("--access-key-id", "AKIAIOSFODNN7EXAMPLE"),
                                   ("--user-name", "alice"), ("--undo",)])  # fmt: skip
def test_not_with_a_guard_or_undo(moto_server, aws_home, other):
    result = aws_home.run(*ALL, *other)
    assert result.returncode == aws_home.usage_exit_code
    assert result.stderr == f"rotate-my-key: --all-profiles: cannot be used with {other[0]}\n"
    assert result.stdout == ""


def test_no_profile_with_a_key_gives_no_results(moto_server, aws_home):
    result = aws_home.run(*ALL)
    assert result.returncode == 0, result.stderr
    assert result.json == {"Results": []}


def test_a_rotation_left_in_flight_blocks_the_later_keys_until_it_is_finished(
    moto_server, aws_home, tmp_path
):
    """bob's rotation works; alice's --restart-command fails (exit 5, journaled); carol's is not
    started (one journal per config directory). The next run finishes alice's first."""
    users = {name: moto_server.make_user() for name in ("bob", "alice", "carol")}
    old = {name: moto_server.make_key(user, age_days=100) for name, user in users.items()}
    for name, key in old.items():
        aws_home.add_profile(name, key)
    log, fixed = tmp_path / "restarts.log", tmp_path / "fixed"
    # The service fails on the second key it is restarted with (alice's new one) until fixed.
    command = (
        f'echo "$AWS_ACCESS_KEY_ID" >> {log}; '
        f'test -e {fixed} || test "$AWS_ACCESS_KEY_ID" != "$(sed -n 2p {log})"'
    )
    run = ("--restart-command", command)

    first = aws_home.run(*ALL, *run)

    assert first.returncode == 5, first.stderr
    results = by_profile(first.json)
    assert [r["ExitCode"] for r in first.json["Results"]] == [0, 5, 3]
    assert results["bob"]["Rotated"] is True
    assert "--restart-command) exited with status 1" in results["alice"]["Error"]
    alices_new = aws_home.profile_key("alice")[0]
    assert moto_server.keys(users["alice"]) == {
        old["alice"].access_key_id: "Active",
        alices_new: "Active",
    }
    carol = results["carol"]
    assert carol["Error"].startswith("not attempted: the rotation of profile 'alice' is still")
    assert carol["AccessKeyId"] == old["carol"].access_key_id
    assert moto_server.keys(users["carol"]) == {old["carol"].access_key_id: "Active"}
    assert aws_home.profile_key("carol")[0] == old["carol"].access_key_id
    assert f"rotate-my-key: profile 'carol': {carol['Error']}\n" in first.stderr
    assert log.read_text().split() == [results["bob"]["NewAccessKeyId"], alices_new]

    second = aws_home.run(*ALL, *run)  # still broken: alice's command once more, first

    assert second.returncode == 5, second.stderr
    alice, bob, carol = second.json["Results"]
    assert alice["Profiles"] == ["alice"] and alice["ExitCode"] == 5
    assert (bob["ExitCode"], carol["ExitCode"]) == (3, 3) and "not attempted" in bob["Error"]
    assert log.read_text().split()[2:] == [alices_new]
    assert len(moto_server.keys(users["bob"])) == 1  # bob's key was not rotated again

    fixed.touch()
    third = aws_home.run(*ALL, *run)

    assert third.returncode == 0, third.stderr
    alice, bob, carol = third.json["Results"]
    assert alice["Recovered"]["Action"] == "Completed" and alice["ExitCode"] == 0
    assert moto_server.keys(users["alice"]) == {alices_new: "Active"}  # not rotated again
    assert bob["Rotated"] is True and carol["Rotated"] is True
    assert aws_home.profile_key("carol")[0] == carol["NewAccessKeyId"]
    assert not (aws_home.root / ".aws" / "rotate-my-key.journal.json").exists()


MFA_ONE = "arn:aws:iam::123456789012:mfa/one"
MFA_TWO = "arn:aws:iam::123456789012:mfa/two"


def test_any_profile_on_a_key_names_its_mfa_device(moto_server, aws_home):
    """A device on the second holder is the key's device: without a terminal or --token-code,
    nothing changes (exit 3). A device only on a role profile whose source is the key's profile
    may be for AssumeRole alone: without a code for it the key rotates without MFA."""
    keys = {name: moto_server.make_key(moto_server.make_user(), age_days=100)
            for name in ("shared", "bob", "carol", "dave")}  # fmt: skip
    aws_home.add_profile("shared", keys["shared"])
    aws_home.add_profile("shared-copy", keys["shared"], where="config", mfa_serial=MFA_ONE)
    aws_home.add_profile("bob", keys["bob"])
    aws_home.config.write_text(
        aws_home.config.read_text() + "[profile admin]\nrole_arn = arn:aws:iam::123456789012:"
        f"role/admin\nsource_profile = bob\nmfa_serial = {MFA_TWO}\n"
    )
    aws_home.add_profile("carol", keys["carol"], mfa_serial=MFA_ONE)
    aws_home.add_profile("carol-copy", keys["carol"], where="config", mfa_serial=MFA_TWO)
    aws_home.add_profile("dave", keys["dave"])

    result = aws_home.run(*ALL)

    assert result.returncode == 3, result.stderr
    results = by_profile(result.json)
    assert results["shared"]["ExitCode"] == 3
    assert f"needs an MFA code from {MFA_ONE}" in results["shared"]["Error"]
    assert aws_home.profile_key("shared")[0] == keys["shared"].access_key_id
    assert results["bob"]["ExitCode"] == 0 and results["bob"]["Rotated"] is True
    assert results["carol"]["ExitCode"] == 3
    assert f"naming 2 MFA devices ({MFA_ONE}, {MFA_TWO})" in results["carol"]["Error"]
    assert results["dave"]["ExitCode"] == 0 and results["dave"]["Rotated"] is True


def test_a_token_code_no_key_needs_is_refused(moto_server, aws_home):
    key = moto_server.make_key(moto_server.make_user(), age_days=100)
    aws_home.add_profile("alice", key)

    result = aws_home.run(*ALL, "--token-code", "123456")

    assert result.returncode == 3, result.stderr
    assert result.stderr == (
        "rotate-my-key: --token-code was given but no MFA device is known (no --mfa-serial, no "
        "mfa_serial in any profile of the files); nothing was changed\n"
    )
    assert result.stdout == ""
    assert aws_home.profile_key("alice")[0] == key.access_key_id
