"""``aws iam audit-access-keys`` end to end: the real ``aws`` executable against moto's server.

Each scenario lives in an account of its own (tests.support.audit_fixtures), so other tests'
users never show up. Expected severities are written by hand below, not computed by the code.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.audit_fixtures import Account
from tests.support.cli import AwsHome, Result
from tests.support.moto import Key, MotoServer

pytestmark = pytest.mark.timeout(120)

# user: [(age in days, status, last used days ago or None for never)], in creation order
KEYS = {
    "fresh": [(0, "Active", 0)],
    "overdue": [(100, "Active", 1)],
    "critical": [(800, "Active", 1)],
    "idle": [(60, "Active", None)],
    "idle-used": [(200, "Active", 50)],
    "retired": [(800, "Inactive", None)],
    "never-used-new": [(10, "Active", None)],
    "older-made-first": [(400, "Active", 1), (5, "Active", 1)],
    "newer-made-first": [(3, "Active", 1), (500, "Active", 1)],
}
# Per key, in the order above: severity and findings, judged by hand with the defaults.
EXPECTED = {
    "fresh": [("OK", [])],
    "overdue": [("WARNING", ["OVERDUE"])],
    "critical": [("ALERT", ["OVERDUE", "CRITICAL"])],
    "idle": [("WARNING", ["UNUSED"])],
    "idle-used": [("WARNING", ["OVERDUE", "UNUSED"])],
    "retired": [("OK", [])],
    "never-used-new": [("OK", [])],
    "older-made-first": [("WARNING", ["OVERDUE"]), ("OK", [])],
    "newer-made-first": [("OK", []), ("WARNING", ["OVERDUE"])],
}


@pytest.fixture(scope="module")
def scenario(moto_server: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:  # type: ignore[type-arg]
    account = Account(moto_server)
    ids: dict[str, list[str]] = {}
    for user, keys in KEYS.items():
        account.user(user)
        ids[user] = [account.key(user, age, status, used) for age, status, used in keys]
    # Two keys made in the same second: told apart by status, or not at all.
    same = dt.datetime.utcnow().replace(microsecond=0) - dt.timedelta(days=120)
    account.user("same-second-split")
    ids["same-second-split"] = [
        account.key("same-second-split", created=same),
        account.key("same-second-split", created=same, status="Inactive"),
    ]
    account.user("same-second-twins")
    ids["same-second-twins"] = [account.key("same-second-twins", created=same) for _ in (1, 2)]
    home = AwsHome(tmp_path_factory.mktemp("audit") / "home", moto_server.url)
    session = account.assume()
    home.add_profile("default", session, aws_session_token=session.session_token)
    result = home.run("iam", "audit-access-keys")
    yield {"account": account, "ids": ids, "home": home, "result": result}


def rows(result: Result) -> dict[str, dict]:  # type: ignore[type-arg]
    return {k["AccessKeyId"]: k for k in result.json["Keys"] if k["AccessKeyId"]}


def test_the_audit_completes(scenario: dict) -> None:  # type: ignore[type-arg]
    result = scenario["result"]
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    (account,) = result.json["Accounts"]
    assert account["AccountId"] == scenario["account"].id
    assert account["Error"] is None and account["GeneratedTime"]


@pytest.mark.parametrize("user", list(EXPECTED))
def test_every_key_is_judged_as_written_by_hand(scenario: dict, user: str) -> None:  # type: ignore[type-arg]
    by_id = rows(scenario["result"])
    for key_id, (age, status, _), (severity, findings) in zip(
        scenario["ids"][user], KEYS[user], EXPECTED[user], strict=True
    ):
        row = by_id[key_id]
        assert row["UserName"] == user
        assert (row["Status"], row["AgeDays"]) == (status, age)
        assert (row["Severity"], row["Findings"]) == (severity, findings)
        assert row["Source"] == "CredentialReport" and row["MatchNote"] is None


def test_same_second_keys_are_told_apart_by_status(scenario: dict) -> None:  # type: ignore[type-arg]
    active_id, inactive_id = scenario["ids"]["same-second-split"]
    by_id = rows(scenario["result"])
    assert (by_id[active_id]["Status"], by_id[active_id]["Severity"]) == ("Active", "WARNING")
    assert by_id[active_id]["Findings"] == ["OVERDUE", "UNUSED"]
    assert (by_id[inactive_id]["Status"], by_id[inactive_id]["Severity"]) == ("Inactive", "OK")


def test_same_second_same_status_keys_are_ambiguous_not_guessed(scenario: dict) -> None:  # type: ignore[type-arg]
    twins = [k for k in scenario["result"].json["Keys"] if k["UserName"] == "same-second-twins"]
    assert len(twins) == 2
    for row in twins:
        assert row["AccessKeyId"] is None
        assert all(key_id in row["MatchNote"] for key_id in scenario["ids"]["same-second-twins"])
        assert (row["Severity"], row["Findings"]) == ("WARNING", ["OVERDUE", "UNUSED"])


def test_summary_counts_every_key(scenario: dict) -> None:  # type: ignore[type-arg]
    # 15 keys: 2 inactive (retired, same-second-split's second); by hand from the tables above.
    assert scenario["result"].json["Summary"] == {
        "Keys": 15,
        "Active": 13,
        "OK": 6,
        "WARNING": 8,
        "ALERT": 1,
    }


def test_query_and_text_output_for_scripts(scenario: dict) -> None:  # type: ignore[type-arg]
    result = scenario["home"].run(
        "iam",
        "audit-access-keys",
        "--query",
        "Keys[?Severity=='ALERT'].[UserName,AccessKeyId]",
        "--output",
        "text",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"critical\t{scenario['ids']['critical'][0]}\n"


@pytest.mark.parametrize(("fail_on", "code"), [("alert", 10), ("warning", 10)])
def test_fail_on_with_an_alert_in_the_account(scenario: dict, fail_on: str, code: int) -> None:  # type: ignore[type-arg]
    result = scenario["home"].run("iam", "audit-access-keys", "--fail-on", fail_on)
    assert result.returncode == code, result.stderr
    assert result.json["Summary"]["ALERT"] == 1  # the output is still printed


def test_thresholds_are_options(scenario: dict) -> None:  # type: ignore[type-arg]
    result = scenario["home"].run(
        "iam", "audit-access-keys", "--warn-days", "2", "--alert-days", "400", "--unused-days", "5"
    )
    assert result.returncode == 0, result.stderr
    by_id = rows(result)
    newer, older = scenario["ids"]["newer-made-first"]
    assert (by_id[newer]["Severity"], by_id[newer]["Findings"]) == ("WARNING", ["OVERDUE"])
    assert by_id[older]["Findings"] == ["OVERDUE", "CRITICAL"]
    assert by_id[scenario["ids"]["never-used-new"][0]]["Findings"] == ["OVERDUE", "UNUSED"]


# --- accounts with only mild keys -----------------------------------------------------------


def home_for(account: Account, tmp_path: Path, url: str) -> AwsHome:
    home = AwsHome(tmp_path / "home", url)
    session = account.assume()
    home.add_profile("default", session, aws_session_token=session.session_token)
    return home


@pytest.mark.parametrize(
    ("ages", "fail_on", "code"),
    [
        ([(100, 1)], "alert", 0),  # worst is a WARNING
        ([(100, 1)], "warning", 10),
        ([(1, 0), (30, None)], "warning", 0),  # all OK
    ],
)
def test_fail_on_thresholds(
    moto_server: MotoServer,
    tmp_path: Path,
    ages: list,
    fail_on: str,
    code: int,  # type: ignore[type-arg]
) -> None:
    account = Account(moto_server)
    account.user("someone")
    for age, used in ages:
        account.key("someone", age, used_days_ago=used)
    result = home_for(account, tmp_path, moto_server.url).run(
        "iam", "audit-access-keys", "--fail-on", fail_on
    )
    assert result.returncode == code, result.stderr


def test_table_output_reads_well(moto_server: MotoServer, tmp_path: Path) -> None:
    account = Account(moto_server)
    account.user("alice")
    alice_old = account.key("alice", 800, used_days_ago=3)
    account.key("alice", 2, used_days_ago=1)
    account.user("bob")
    account.key("bob", 50, status="Inactive")
    result = home_for(account, tmp_path, moto_server.url).run(
        "iam", "audit-access-keys", "--output", "table"
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "audit-access-keys" in lines[1]
    header = next(line for line in lines if "AccessKeyId" in line)
    for column in ("AgeDays", "Findings", "LastUsed", "Severity", "Status", "UserName"):
        assert column in header
    assert "UserArn" not in header and "AccountId" not in header  # one account: no need
    (alice_line,) = [line for line in lines if alice_old in line]
    assert "ALERT" in alice_line and "OVERDUE CRITICAL" in alice_line and "800" in alice_line
    assert max(len(line) for line in lines) <= 120  # fits a terminal


def test_an_empty_account_is_a_complete_audit(moto_server: MotoServer, tmp_path: Path) -> None:
    result = home_for(Account(moto_server), tmp_path, moto_server.url).run(
        "iam", "audit-access-keys"
    )
    assert result.returncode == 0, result.stderr
    assert result.json["Keys"] == []
    assert result.json["Summary"] == {"Keys": 0, "Active": 0, "OK": 0, "WARNING": 0, "ALERT": 0}


# --- the command cannot run -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--organization", "--account-ids", "123456789012"], "cannot be used with"),
        (["--account-ids", "12345"], "--account-ids: '12345' is not a 12-digit account ID"),
        (["--max-concurrency", "0"], "--max-concurrency: must be 1 or more, not 0"),
        (["--warn-days", "100", "--alert-days", "50"], "--alert-days: must not be less"),
        (["--unused-days", "-1"], "must be 0 or more"),
    ],
)
def test_invalid_options_exit_with_the_usage_code_and_one_line(
    aws_home: AwsHome, moto_server: MotoServer, args: list[str], message: str
) -> None:
    # Was exit 255 under every CLI; the rule is now the CLI's usage code (252 under v2).
    aws_home.add_profile("default", moto_server.admin)
    result = aws_home.run("iam", "audit-access-keys", *args)
    assert result.returncode == aws_home.usage_exit_code
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and message in result.stderr


def test_fail_on_accepts_only_its_choices(aws_home: AwsHome, moto_server: MotoServer) -> None:
    # Was the CLI's own choices error (exit 2 under v1); now ours, with the usage code.
    aws_home.add_profile("default", moto_server.admin)
    result = aws_home.run("iam", "audit-access-keys", "--fail-on", "notice")
    assert result.returncode == aws_home.usage_exit_code
    assert result.stderr == "audit-access-keys: --fail-on: 'notice' is not one of warning, alert\n"


def test_bad_credentials_exit_255_without_a_traceback(aws_home: AwsHome) -> None:
    aws_home.add_profile("default", Key("AKIAAAAAAAAAAAAAAAAA", "not-a-secret"))
    result = aws_home.run("iam", "audit-access-keys")
    assert result.returncode == 255
    assert result.stderr.startswith("audit-access-keys: GetCallerIdentity: InvalidClientTokenId: ")
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_help_is_a_full_page(aws_home: AwsHome) -> None:
    aws_home.extra_env.update(PAGER="cat", MANPAGER="cat")
    result = aws_home.run("iam", "audit-access-keys", "help")
    assert result.returncode == 0, result.stderr
    page = re.sub(".\b", "", result.stdout)  # man's overstrike bold
    for needed in (
        "--warn-days",
        "--alert-days",
        "--unused-days",
        "--fail-on",
        "--organization",
        "--account-ids",
        "--role-name",
        "--max-concurrency",
        "Trusted Advisor",
        "access-keys-rotated",
        "ROOT_KEY",
        "Exit codes",
        "Permissions",
        "iam:GenerateCredentialReport",
        "organizations:ListAccounts",
        "sts:AssumeRole",
        "MatchNote",
        "EXAMPLES",
        "--output table",
    ):
        assert needed in page, needed
    words = " ".join(page.split())  # the man renderer justifies lines with extra spaces
    for needed in (
        "NAME audit-access-keys - List every access key of an account or organization",
        "Default 730 (2 years), Trusted Advisor's red, or --warn-days if that is more",
        "255 under AWS CLI v1, 252 under v2: an invalid option value",
        "audit-access-keys: --<option>: <why>",
    ):
        assert needed in words, needed


def test_warn_days_alone_moves_the_alert_default_up(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """--alert-days defaults to max(730, --warn-days): --warn-days 1000 alone is valid."""
    account = Account(moto_server)
    account.user("old")
    key = account.key("old", 800, used_days_ago=1)
    result = home_for(account, tmp_path, moto_server.url).run(
        "iam", "audit-access-keys", "--warn-days", "1000"
    )
    assert result.returncode == 0, result.stderr
    assert (rows(result)[key]["Severity"], rows(result)[key]["Findings"]) == ("OK", [])
