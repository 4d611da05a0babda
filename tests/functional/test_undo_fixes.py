"""``--undo`` review fixes through the real `aws` (v1 and v2), against moto, signed: the rights
check, a dry run that changes no file, and local errors as one line."""

from __future__ import annotations

import json

import pytest

from tests.functional.test_rotate_defects import policy_without
from tests.functional.test_undo import KEPT, ROTATE, aws_dir, snapshot


@pytest.fixture
def alice(moto_server, aws_home):  # type: ignore[no-untyped-def]
    user = moto_server.make_user()
    key = moto_server.make_key(user, age_days=120)
    aws_home.add_profile("alice", key)
    return user, key


def kept_with_no_delete(aws_home):  # type: ignore[no-untyped-def]
    rotated = aws_home.run(*ROTATE, "--no-delete")
    assert rotated.returncode == 0, rotated.stderr
    return rotated.json["NewAccessKeyId"]


@pytest.mark.parametrize("missing", ["DeleteAccessKey", "UpdateAccessKey"])
def test_undo_without_a_right_is_refused_naming_it(moto_server, aws_home, alice, missing):
    user, old = alice
    new_id = kept_with_no_delete(aws_home)
    moto_server.iam.put_user_policy(
        UserName=user, PolicyName="self-service", PolicyDocument=json.dumps(policy_without(missing))
    )
    before = snapshot(aws_home)

    plan = aws_home.run(*ROTATE, "--undo", "--dry-run")

    assert plan.returncode == 0, plan.stderr
    rights = {"UpdateAccessKey": "Allowed", "DeleteAccessKey": "Allowed", missing: "Denied"}
    assert plan.json["RetirementRights"] == rights

    result = aws_home.run(*ROTATE, "--undo")

    assert result.returncode == 3, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("rotate-my-key: ") and f"does not allow iam:{missing} " in line
    assert "nothing was changed" in line and result.stdout == ""
    assert moto_server.keys(user) == {old.access_key_id: "Inactive", new_id: "Active"}
    assert snapshot(aws_home) == before


def test_undo_dry_run_with_the_old_key_deleted_by_hand_leaves_the_undo_file_as_it_was(
    moto_server, aws_home, alice
):
    user, old = alice
    kept_with_no_delete(aws_home)
    moto_server.iam.delete_access_key(UserName=user, AccessKeyId=old.access_key_id)
    before = snapshot(aws_home)
    assert KEPT in before

    dry = aws_home.run(*ROTATE, "--undo", "--dry-run")

    assert dry.returncode == 3, dry.stderr
    assert dry.stderr.startswith("rotate-my-key: nothing to undo for profile 'alice'")
    assert "no longer exists" in dry.stderr
    assert snapshot(aws_home) == before  # the undo file byte for byte

    real = aws_home.run(*ROTATE, "--undo")

    assert real.returncode == 3, real.stderr
    assert KEPT not in snapshot(aws_home)  # the real --undo lets the useless secret go


@pytest.mark.parametrize("dry_run", [(), ("--dry-run",)])
def test_a_journal_path_that_is_a_directory_is_one_line_exit_3_for_undo(
    moto_server, aws_home, alice, dry_run
):
    user, old = alice
    new_id = kept_with_no_delete(aws_home)
    journal = aws_dir(aws_home) / "rotate-my-key.journal.json"
    journal.mkdir()

    result = aws_home.run(*ROTATE, "--undo", *dry_run)

    assert result.returncode == 3, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("rotate-my-key: ") and f"Is a directory: {journal}" in line
    assert "nothing was changed" in line and "Errno" not in line
    assert moto_server.keys(user) == {old.access_key_id: "Inactive", new_id: "Active"}
