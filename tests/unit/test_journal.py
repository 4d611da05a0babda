"""The journal's format: a version field, the previous release's journals, and files it cannot read.

A journal, rollback file or kept-keys file this release cannot read refuses the run before any
AWS call (exit 3) with one line naming the file, what it can read of it and what to do; the dry
run shows the same under ``PendingRecovery`` instead of failing.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from awscli_rotate_key.errors import EXIT_REFUSED, Refused
from awscli_rotate_key.rotate.journal import RETIRING, SAVED, Journal, JournalRecord
from awscli_rotate_key.rotate.kept import KEPT_FILE
from awscli_rotate_key.rotate.results import DryRun, Rotated
from awscli_rotate_key.rotate.rotation import DELETED
from awscli_rotate_key.rotate.statefiles import VERSION
from tests.unit.test_rotation import Home, Killed, kill, make_home

JOURNAL = "rotate-my-key.journal.json"
ROLLBACK = "rotate-my-key.rollback.json"


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return make_home(tmp_path)


def killed_while_retiring(home: Home) -> str:
    """A rotation killed just before the old key is deactivated; returns the new key's ID."""
    home.iam.before["UpdateAccessKey"] = lambda call: (
        kill() if call.target == (f"{home.old.access_key_id}:Inactive") else None
    )
    with pytest.raises(Killed):
        home.run()
    del home.iam.before["UpdateAccessKey"]
    return home.key_of().access_key_id


def journal_json(home: Home) -> dict[str, object]:
    data: dict[str, object] = json.loads((home.aws / JOURNAL).read_text())
    return data


def test_the_journal_carries_its_format_version(home: Home) -> None:
    new_id = killed_while_retiring(home)

    data = journal_json(home)
    assert data["Version"] == VERSION == 1
    assert data["step"] == RETIRING and data["new_key_id"] == new_id
    assert json.loads((home.aws / ROLLBACK).read_text())["Version"] == 1


def test_a_journal_of_the_previous_release_is_read_and_finished_as_before(home: Home) -> None:
    new_id = killed_while_retiring(home)
    # Exactly what the previous release wrote: no Version field, the same fields.
    record = home.record()
    (home.aws / JOURNAL).write_text(json.dumps(asdict(record), indent=1))
    secret = home.old.secret_access_key
    (home.aws / ROLLBACK).write_text(
        json.dumps({"AccessKeyId": home.old.access_key_id, "SecretAccessKey": secret})
    )
    assert home.journal.load() == record

    result = home.run()

    assert isinstance(result, Rotated)
    assert result.recovered is not None and result.recovered["Action"] == "Completed"
    assert (result.new_key_id, result.old_key_status) == (new_id, DELETED)
    assert home.in_flight() == set()


def refusal(home: Home) -> Refused:
    with pytest.raises(Refused) as caught:
        home.run()
    assert home.iam.log == [], "an AWS call was made"
    assert caught.value.exit_code == EXIT_REFUSED
    return caught.value


CORRUPT = {
    "cut short": lambda text: text[: len(text) // 2],
    "not json": lambda text: "\x00\xff garbage " + text[:40],
    "empty": lambda text: "",
}


@pytest.mark.parametrize("damage", list(CORRUPT), ids=list(CORRUPT))
def test_a_corrupt_journal_refuses_before_any_aws_call_naming_what_it_can_read(
    home: Home, damage: str
) -> None:
    new_id = killed_while_retiring(home)
    path = home.aws / JOURNAL
    path.write_text(CORRUPT[damage](path.read_text()))
    home.iam.log.clear()

    message = str(refusal(home))

    assert str(path) in message and "\n" not in message
    assert "remove the file" in message and "list-access-keys" in message
    if damage == "cut short":  # what a regex still finds in the half that is left
        assert "profile 'default'" in message and home.old.access_key_id in message
        assert "--profile default" in message
    if damage == "empty":
        assert "nothing in it names a profile or key" in message
    assert new_id not in message or damage != "empty"


@pytest.mark.parametrize(
    "change, why",
    [
        ({"Version": 2}, "format version 2"),
        ({"Version": "1"}, "format version '1'"),
        ({"checksum": "abc"}, "unknown field 'checksum'"),
        ({"step": "exploding"}, "unknown step 'exploding'"),
        ({"keys_before": "AKIA"}, "field 'keys_before'"),
    ],
)
def test_a_journal_of_an_unknown_format_is_refused(
    home: Home, change: dict[str, object], why: str
) -> None:
    new_id = killed_while_retiring(home)
    data = {**journal_json(home), **change}
    (home.aws / JOURNAL).write_text(json.dumps(data))
    home.iam.log.clear()

    message = str(refusal(home))

    assert why in message
    assert "profile 'default'" in message
    assert home.old.access_key_id in message and new_id in message
    if change.get("Version") == 2:
        assert "A newer release wrote it: upgrade awscli-rotate-key" in message


def test_the_dry_run_shows_an_unreadable_journal_instead_of_failing(home: Home) -> None:
    killed_while_retiring(home)
    path = home.aws / JOURNAL
    path.write_text(path.read_text()[:-30])

    result = home.run(dry_run=True)

    assert isinstance(result, DryRun)
    shown = result.to_output()["PendingRecovery"]
    assert set(shown) == {"Error", "File", "Profiles", "AccessKeyIds"}
    assert str(path) in shown["Error"] and shown["File"] == str(path)
    assert shown["Profiles"] == ["default"]
    assert home.old.access_key_id in shown["AccessKeyIds"]


def test_a_corrupt_rollback_file_is_a_clear_refusal_that_never_shows_the_secret(
    home: Home,
) -> None:
    killed_while_retiring(home)
    path = home.aws / ROLLBACK
    path.write_text(path.read_text()[:-3])
    home.iam.log.clear()

    message = str(refusal(home))

    assert str(path) in message and home.old.access_key_id in message
    assert home.old.secret_access_key not in message
    assert "remove it and run again" in message


def test_a_corrupt_kept_keys_file_is_a_clear_refusal(home: Home) -> None:
    first = home.run(delete=False)
    assert isinstance(first, Rotated)
    path = home.aws / KEPT_FILE
    path.write_text(path.read_text()[:-5])
    home.iam.log.clear()

    message = str(refusal(home))

    assert str(path) in message and "--undo is then no longer possible" in message
    assert home.old.access_key_id in message and first.new_key_id in message
    assert home.old.secret_access_key not in message


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    journal = Journal(str(tmp_path))
    record = JournalRecord("dev", "alice", "AKIAOLD", ["AKIAOLD"], True, SAVED, "AKIANEW", ["/f"])
    journal.save(record)
    assert journal.load() == record
