"""Issue 7, defects 1, 4 and 9, through the real `aws` (v1 and v2) against moto, signed.

1: a policy without a retirement right is refused before any key is created (exit 3).
4: the local profiles on the other key are named, and moved with --delete-other-key.
9: a journal that cannot be written after the files hold the new key stops before retiring
   (exit 5) with one `rotate-my-key:` line, and the next run finishes.
"""

from __future__ import annotations

import copy
import os
import subprocess

import pytest

from tests.support.moto import SELF_SERVICE_POLICY

ROTATE = ("iam", "rotate-my-key", "--profile", "alice")


def snapshot(home):  # type: ignore[no-untyped-def]
    return {p.name: p.read_bytes() for p in (home.root / ".aws").iterdir() if p.is_file()}


def policy_without(action: str) -> dict:  # type: ignore[type-arg]
    policy = copy.deepcopy(SELF_SERVICE_POLICY)
    policy["Statement"][0]["Action"].remove(f"iam:{action}")
    return policy


@pytest.mark.parametrize("missing", ["DeleteAccessKey", "UpdateAccessKey"])
def test_a_policy_without_a_retirement_right_is_refused_before_any_key_is_created(
    moto_server, aws_home, missing
):
    user = moto_server.make_user(policy=policy_without(missing))
    old = moto_server.make_key(user, age_days=100)
    aws_home.add_profile("alice", old)
    before = snapshot(aws_home)

    result = aws_home.run(*ROTATE)

    assert result.returncode == 3, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("rotate-my-key: ") and f"does not allow iam:{missing} " in line
    assert "nothing was changed" in line and result.stdout == ""
    assert moto_server.keys(user) == {old.access_key_id: "Active"}
    assert snapshot(aws_home) == before  # no journal, files untouched

    plan = aws_home.run(*ROTATE, "--dry-run")

    assert plan.returncode == 0, plan.stderr
    rights = {"UpdateAccessKey": "Allowed", "DeleteAccessKey": "Allowed", missing: "Denied"}
    assert plan.json["RetirementRights"] == rights
    assert moto_server.keys(user) == {old.access_key_id: "Active"}
    assert snapshot(aws_home) == before


def two_profiles_two_keys(moto_server, home):  # type: ignore[no-untyped-def]
    """``alice`` on key A, ``alice2`` on key B: both Active, both of the same IAM user."""
    user = moto_server.make_user()
    a = moto_server.make_key(user, age_days=100)
    b = moto_server.make_key(user, age_days=30)
    home.add_profile("alice", a)
    home.add_profile("alice2", b, where="config", region="us-east-1")
    return user, a, b


def test_the_refusal_and_the_dry_run_name_the_profile_on_the_other_key(moto_server, aws_home):
    user, a, b = two_profiles_two_keys(moto_server, aws_home)
    before = snapshot(aws_home)

    refused = aws_home.run(*ROTATE)

    assert refused.returncode == 3, refused.stderr
    assert b.access_key_id in refused.stderr and "local profiles 'alice2' use it" in refused.stderr
    assert snapshot(aws_home) == before
    plan = aws_home.run(*ROTATE, "--dry-run", "--delete-other-key")
    assert plan.json["OtherKey"] == {
        "AccessKeyId": b.access_key_id,
        "Status": "Active",
        "Action": "Delete",
        "Profiles": ["alice2"],
    }
    assert moto_server.keys(user) == {a.access_key_id: "Active", b.access_key_id: "Active"}


def test_delete_other_key_moves_its_profiles_to_the_new_key(moto_server, aws_home):
    user, a, b = two_profiles_two_keys(moto_server, aws_home)

    result = aws_home.run(*ROTATE, "--delete-other-key")

    assert result.returncode == 0, result.stderr
    out = result.json
    new_id = out["NewAccessKeyId"]
    assert out["DeletedOtherAccessKeyId"] == b.access_key_id
    assert out["UpdatedProfiles"] == ["alice", "alice2"]
    assert moto_server.keys(user) == {new_id: "Active"}
    assert aws_home.profile_key("alice") == aws_home.profile_key("alice2")
    assert aws_home.profile_key("alice2")[0] == new_id
    for profile in ("alice", "alice2"):  # both really work
        assert aws_home.run("iam", "list-access-keys", "--profile", profile).returncode == 0


def chattr(flag: str, path) -> None:  # type: ignore[no-untyped-def]
    subprocess.run(["chattr", flag, str(path)], check=True, capture_output=True)


@pytest.fixture
def journal_dir_apart(proxied_home):  # type: ignore[no-untyped-def]
    """The credentials file in its own directory, so the journal's (~/.aws) can be frozen."""
    creds_dir = proxied_home.root / "creds"
    creds_dir.mkdir()
    proxied_home.extra_env["AWS_SHARED_CREDENTIALS_FILE"] = str(creds_dir / "credentials")
    aws_dir = proxied_home.root / ".aws"
    try:
        chattr("+i", aws_dir)
        chattr("-i", aws_dir)
    except (OSError, subprocess.CalledProcessError) as error:
        pytest.skip(f"LOUD SKIP: chattr +i does not work here ({error})")
    yield creds_dir / "credentials", aws_dir
    chattr("-i", aws_dir)


def test_a_journal_that_cannot_be_written_after_the_save_stops_before_retiring(
    moto_server, proxied_home, proxy, journal_dir_apart
):
    credentials, aws_dir = journal_dir_apart
    user = moto_server.make_user()
    old = moto_server.make_key(user, age_days=100)
    credentials.write_text(
        f"[alice]\naws_access_key_id = {old.access_key_id}\n"
        f"aws_secret_access_key = {old.secret_access_key}\n"
    )
    credentials.chmod(0o600)
    # The key is created and its answer is on its way: from now on ~/.aws cannot change.
    proxy.on("CreateAccessKey", lambda call: chattr("+i", aws_dir), when="after")

    result = proxied_home.run(*ROTATE)

    assert result.returncode == 5, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("rotate-my-key: ") and "[Errno" not in line
    assert "Operation not permitted" in line and str(aws_dir) in line
    new_id = credentials.read_text().split("aws_access_key_id = ")[1].split()[0]
    assert new_id != old.access_key_id and new_id in line
    assert moto_server.keys(user) == {old.access_key_id: "Active", new_id: "Active"}
    assert "UpdateAccessKey" not in proxy.actions()  # never retired without a journal

    chattr("-i", aws_dir)
    again = proxied_home.run(*ROTATE)

    assert again.returncode == 0, again.stderr
    assert again.json["Recovered"]["Action"] == "Completed"
    assert moto_server.keys(user) == {new_id: "Active"}
    assert not [f for f in os.listdir(aws_dir) if f.startswith("rotate-my-key")]
