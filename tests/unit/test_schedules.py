"""The schedules of deploy/schedules/ are valid, and each rotates with --older-than, logging JSON.

systemd units are checked by ``systemd-analyze verify``; the launchd plist and the Task Scheduler
XML only parse (no macOS or Windows here; README says so); the cron line by its syntax.
"""

from __future__ import annotations

import os
import plistlib
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCHEDULES = ROOT / "deploy" / "schedules"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
TASK_NS = "{http://schemas.microsoft.com/windows/2004/02/mit/task}"


def rotates_when_due(args: list[str]) -> None:
    """What every schedule runs: rotate-my-key, only when due, with JSON output."""
    assert args[:2] == ["iam", "rotate-my-key"], args
    assert args[args.index("--older-than") + 1] == "90"
    assert args[args.index("--output") + 1] == "json"


# --- systemd -------------------------------------------------------------------------------------


def unit_settings(path: Path) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def test_the_systemd_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    if not os.path.exists(SYSTEMD_ANALYZE):
        message = f"{SYSTEMD_ANALYZE} is missing: the systemd units are not verified"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: this check must run)")
        pytest.skip(message)
    # verify needs ExecStart's binary to exist: point it at one that does, arguments unchanged.
    existing = shutil.which("true") or "/bin/true"
    service = (SCHEDULES / "rotate-my-key.service").read_text()
    assert "\nExecStart=/usr/local/bin/aws " in service
    (tmp_path / "rotate-my-key.service").write_text(
        service.replace("\nExecStart=/usr/local/bin/aws ", f"\nExecStart={existing} ")
    )
    shutil.copy(SCHEDULES / "rotate-my-key.timer", tmp_path / "rotate-my-key.timer")
    units = [str(tmp_path / "rotate-my-key.service"), str(tmp_path / "rotate-my-key.timer")]

    proc = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", *units], capture_output=True, text=True, timeout=60
    )

    # A bad value is only a warning (exit 0): any line about our units fails the test too.
    ours = [line for line in proc.stderr.splitlines() if str(tmp_path) in line or "rotate" in line]
    assert proc.returncode == 0 and not ours, proc.stderr


def test_the_service_runs_as_a_service_user_and_appends_json_to_a_log() -> None:
    service = unit_settings(SCHEDULES / "rotate-my-key.service")
    (exec_start,) = service["ExecStart"]
    assert exec_start.split()[0] == "/usr/local/bin/aws"
    rotates_when_due(exec_start.split()[1:])
    assert service["Type"] == ["oneshot"]
    assert service["User"] == ["svc-app"] and "HOME=/home/svc-app" in service["Environment"]
    (stdout,) = service["StandardOutput"]
    assert stdout.startswith("append:/") and stdout.endswith(".log")
    timer = unit_settings(SCHEDULES / "rotate-my-key.timer")
    assert timer["OnCalendar"] and timer["Persistent"] == ["true"]
    assert timer["WantedBy"] == ["timers.target"]  # the timer starts the same-named service


# --- launchd (syntax only) -----------------------------------------------------------------------


def test_the_launchd_plist_parses_with_the_required_keys() -> None:
    with open(SCHEDULES / "com.example.rotate-my-key.plist", "rb") as f:
        plist = plistlib.load(f)
    assert plist["Label"] == "com.example.rotate-my-key"
    assert plist["ProgramArguments"][0].endswith("/aws")
    rotates_when_due(plist["ProgramArguments"][1:])
    assert set(plist["StartCalendarInterval"]) == {"Hour", "Minute"}
    assert plist["StandardOutPath"].endswith(".log")
    assert plist["UserName"] and plist["EnvironmentVariables"]["HOME"]


# --- Windows Task Scheduler (syntax only) --------------------------------------------------------


def test_the_task_scheduler_xml_parses_with_the_required_elements() -> None:
    task = ET.parse(SCHEDULES / "rotate-my-key.xml").getroot()
    assert task.tag == f"{TASK_NS}Task" and task.get("version") == "1.2"

    def one(path: str) -> ET.Element:
        found = task.find(path.replace("/", f"/{TASK_NS}").join([TASK_NS, ""]))
        assert found is not None, path
        return found

    assert one("Triggers/CalendarTrigger/ScheduleByDay/DaysInterval").text == "1"
    assert one("Triggers/CalendarTrigger/StartBoundary").text
    assert one("Principals/Principal/LogonType").text == "S4U"
    assert one("Principals/Principal/UserId").text
    assert one("Settings/MultipleInstancesPolicy").text == "IgnoreNew"
    assert one("Actions/Exec/Command").text == "cmd.exe"
    arguments = one("Actions/Exec/Arguments").text or ""
    command = arguments.split("&& ", 1)[1]
    rotates_when_due(command.split()[1:])
    assert re.search(r' >> "[^"]+\.log"', command), command
    readme = (ROOT / "README.md").read_text()
    assert "schtasks /Create /XML deploy\\schedules\\rotate-my-key.xml /TN rotate-my-key" in readme


# --- cron ----------------------------------------------------------------------------------------

# Each field: *, a number or a range, optionally /step, comma-separated; with its bounds.
_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")
_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


def cron_field_ok(field: str, low: int, high: int) -> bool:
    return bool(_FIELD.match(field)) and all(
        low <= int(n) <= high for n in re.findall(r"(?<![/\d])\d+", field)
    )


def test_the_cron_line_has_five_valid_fields_and_rotates_when_due() -> None:
    lines = [
        line
        for line in (SCHEDULES / "crontab").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    jobs = [line for line in lines if not re.match(r"^[A-Z_]+=", line)]
    assert len(jobs) == 1, lines
    fields = jobs[0].split(None, 5)
    assert len(fields) == 6, jobs[0]
    for field, (low, high) in zip(fields[:5], _BOUNDS, strict=True):
        assert cron_field_ok(field, low, high), field
    command = fields[5].split()
    aws = next(i for i, word in enumerate(command) if word.endswith("/aws"))
    rotates_when_due(command[aws + 1 :])
    assert command[-2] == ">>" and command[-1].strip('"').endswith(".log")


@pytest.mark.parametrize("field, ok", [("17", True), ("*/15", True), ("1-5,7", True),
                                       ("60", False), ("*/", False), ("a", False)])  # fmt: skip
def test_the_cron_field_check_can_fail(field: str, ok: bool) -> None:
    assert cron_field_ok(field, 0, 59) is ok
