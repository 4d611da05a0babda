"""``--undo`` and unreadable journals through the real `aws` (v1 and v2), against moto, signed."""

from __future__ import annotations

import json
import os
import re
import stat

import pytest

ROTATE = ("iam", "rotate-my-key", "--profile", "alice")
KEPT = "rotate-my-key.undo.json"
JOURNAL = "rotate-my-key.journal.json"


@pytest.fixture
def alice(moto_server, aws_home):  # type: ignore[no-untyped-def]
    """alice's key in two profiles: ``alice`` (credentials file) and ``alice-cfg`` (config)."""
    user = moto_server.make_user()
    key = moto_server.make_key(user, age_days=120)
    aws_home.add_profile("alice", key)
    aws_home.add_profile("alice-cfg", key, where="config", region="us-east-1")
    return user, key


def aws_dir(home):  # type: ignore[no-untyped-def]
    return home.root / ".aws"


def state_files(home):  # type: ignore[no-untyped-def]
    return sorted(f for f in os.listdir(aws_dir(home)) if f.startswith("rotate-my-key"))


def snapshot(home):  # type: ignore[no-untyped-def]
    return {p.name: p.read_bytes() for p in aws_dir(home).iterdir() if p.is_file()}


def test_no_delete_then_undo_puts_the_old_key_back_in_every_profile(moto_server, aws_home, alice):
    user, old = alice
    rotated = aws_home.run(*ROTATE, "--no-delete")
    assert rotated.returncode == 0, rotated.stderr
    new_id = rotated.json["NewAccessKeyId"]
    kept = aws_dir(aws_home) / KEPT
    assert state_files(aws_home) == [KEPT]
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600

    result = aws_home.run(*ROTATE, "--undo")

    assert result.returncode == 0, result.stderr
    assert result.json == {
        "Undone": True,
        "UserName": user,
        "RestoredAccessKeyId": old.access_key_id,
        "DeletedAccessKeyId": new_id,
        "UpdatedProfiles": ["alice", "alice-cfg"],
        "UpdatedFiles": [
            os.path.realpath(aws_home.credentials),
            os.path.realpath(aws_home.config),
        ],
    }
    assert moto_server.keys(user) == {old.access_key_id: "Active"}
    for profile in ("alice", "alice-cfg"):
        assert aws_home.profile_key(profile) == (old.access_key_id, old.secret_access_key)
    assert state_files(aws_home) == []
    assert old.secret_access_key not in result.stdout + result.stderr
    assert aws_home.run("iam", "list-access-keys", "--profile", "alice").returncode == 0


def test_undo_with_nothing_to_undo_exits_3_and_changes_nothing(moto_server, aws_home, alice):
    user, old = alice
    before = snapshot(aws_home)

    result = aws_home.run(*ROTATE, "--undo")

    assert result.returncode == 3, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("rotate-my-key: nothing to undo for profile 'alice'")
    assert len(result.stderr.strip().splitlines()) == 1
    assert snapshot(aws_home) == before
    assert moto_server.keys(user) == {old.access_key_id: "Active"}


def test_no_delete_then_a_plain_rotation_deletes_the_old_key_and_its_kept_secret(
    moto_server, aws_home, alice
):
    user, old = alice
    first = aws_home.run(*ROTATE, "--no-delete")
    assert first.returncode == 0, first.stderr

    second = aws_home.run(*ROTATE)

    assert second.returncode == 0, second.stderr
    assert second.json["DeletedOtherAccessKeyId"] == old.access_key_id
    assert moto_server.keys(user) == {second.json["NewAccessKeyId"]: "Active"}
    assert state_files(aws_home) == []
    assert aws_home.run(*ROTATE, "--undo").returncode == 3


def test_undo_dry_run_shows_the_plan_and_changes_nothing(moto_server, aws_home, alice):
    user, old = alice
    new_id = aws_home.run(*ROTATE, "--no-delete").json["NewAccessKeyId"]
    before, keys = snapshot(aws_home), moto_server.keys(user)

    result = aws_home.run(*ROTATE, "--undo", "--dry-run")

    assert result.returncode == 0, result.stderr
    assert result.json == {
        "Undone": False,
        "DryRun": True,
        "UserName": user,
        "RestoreAccessKeyId": old.access_key_id,
        "DeleteAccessKeyId": new_id,
        "Profiles": ["alice", "alice-cfg"],
        "Files": [os.path.realpath(aws_home.credentials), os.path.realpath(aws_home.config)],
        "RetirementRights": {"UpdateAccessKey": "Allowed", "DeleteAccessKey": "Allowed"},
    }
    assert snapshot(aws_home) == before and moto_server.keys(user) == keys


@pytest.mark.parametrize(
    "other", [("--no-delete",), ("--delete",), ("--delete-other-key",), ("--older-than", "5")]
)
def test_undo_with_a_rotation_option_is_a_usage_error(moto_server, aws_home, alice, other):
    before = snapshot(aws_home)

    result = aws_home.run(*ROTATE, "--undo", *other)

    assert result.returncode == aws_home.usage_exit_code, result.stderr
    assert result.stderr == f"rotate-my-key: --undo: cannot be used with {other[0]}\n"
    assert snapshot(aws_home) == before


def test_a_corrupt_journal_exits_3_naming_it_and_the_dry_run_shows_it(moto_server, aws_home, alice):
    user, old = alice
    journal = aws_dir(aws_home) / JOURNAL
    text = json.dumps(
        {"profile": "alice", "user_name": user, "old_key_id": old.access_key_id}, indent=1
    )
    journal.write_text(text[:-3])  # cut short right after the key ID: not valid JSON
    before = snapshot(aws_home)

    result = aws_home.run(*ROTATE)

    assert result.returncode == 3, result.stderr
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1 and line.startswith("rotate-my-key: ")
    assert str(journal) in line and "profile 'alice'" in line and old.access_key_id in line
    assert "aws iam list-access-keys --profile alice" in line and "remove the file" in line
    assert "Traceback" not in result.stderr
    assert snapshot(aws_home) == before

    dry = aws_home.run(*ROTATE, "--dry-run")

    assert dry.returncode == 0, dry.stderr
    shown = dry.json["PendingRecovery"]
    assert str(journal) in shown["Error"] and shown["File"] == str(journal)
    assert shown["Profiles"] == ["alice"] and shown["AccessKeyIds"] == [old.access_key_id]
    assert snapshot(aws_home) == before
    assert moto_server.keys(user) == {old.access_key_id: "Active"}


def test_a_journal_of_a_newer_format_exits_3(moto_server, aws_home, alice):
    user, old = alice
    journal = aws_dir(aws_home) / JOURNAL
    journal.write_text(json.dumps({"Version": 99, "profile": "alice", "keys": []}))

    result = aws_home.run(*ROTATE)

    assert result.returncode == 3, result.stderr
    assert "format version 99" in result.stderr and "upgrade awscli-rotate-key" in result.stderr
    assert moto_server.keys(user) == {old.access_key_id: "Active"}


def test_the_help_page_documents_undo(aws_home):
    result = aws_home.run("iam", "rotate-my-key", "help")

    assert result.returncode == 0, result.stderr
    words = " ".join(re.sub(".\b", "", result.stdout).split())
    for needle in (
        "aws iam rotate-my-key --undo [--access-key-id <value>] [--user-name <value>] "
        "[--wait-timeout <seconds>] [--mfa-serial <value>] [--token-code <value>] [--dry-run] "
        "[--verbose]",
        "--undo needs a code too: its session is of the new key the files hold",
        "or the files may still hold the new key in some profiles",
        "and iam:DeleteAccessKey (to delete the new key), and refuses (exit 3)",
        "Undo the last --no-delete rotation of the profile",
        "undoes the last --no-delete rotation of the profile while the old key is still Inactive",
        "With --undo: nothing to undo",
        "RestoredAccessKeyId",
        "a journal or other state file that cannot be read",
        "PendingRecovery with an Error",
    ):
        assert needle in words, needle
