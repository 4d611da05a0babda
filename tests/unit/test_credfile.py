"""The credentials/config file updater on real temp files, with and without the CLI's writer.

Every expected file below is written out by hand, byte for byte: the updater must keep every
byte of the file except the target values (the CLI's writer may respell a target line as
``key = value``, so some cases list what it gives separately).
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from awscli.customizations.configure.writer import ConfigFileWriter
from botocore.configloader import raw_config_parse

from awscli_rotate_key.errors import Refused
from awscli_rotate_key.rotate.credfile import (
    ConfigWriter,
    LockTimeout,
    locked,
    safe_mode,
    update_file,
    write_atomically,
)

NEW = {"aws_access_key_id": "AKIANEW", "aws_secret_access_key": "NEWSECRET"}
WRITERS: dict[str, Callable[[], ConfigWriter | None]] = {
    "cli_writer": ConfigFileWriter,
    "line_edit": lambda: None,
}


@dataclass(frozen=True)
class Case:
    id: str
    section: str  # the raw section header, as configparser reads it
    before: str
    after: str
    after_cli: str | None = None  # what the CLI's writer gives, when it differs from ``after``


CONFIG = (
    "[default]\n"
    "region = us-east-1\n"
    "aws_access_key_id = AKIAOLD\n"
    "aws_secret_access_key = OLDSECRET\n"
    "\n"
    "[dev]\n"
    "aws_access_key_id = AKIAOLD\n"
    "aws_secret_access_key = OLDSECRET\n"
    "\n"
    "[profile dev]\n"
    "aws_access_key_id = AKIAOLD\n"
    "aws_secret_access_key = OLDSECRET\n"
    "output = json\n"
)

SHARED = (
    "[a]\n"
    "aws_access_key_id = AKIAOLD\n"
    "aws_secret_access_key = OLDSECRET\n"
    "region = eu-west-1\n"
    "\n"
    "[b]\n"
    "aws_access_key_id = AKIAOLD\n"
    "aws_secret_access_key = OLDSECRET\n"
    "region = eu-west-2\n"
    "\n"
    "[c]\n"
    "aws_access_key_id = AKIAOLD\n"
    "aws_secret_access_key = OLDSECRET\n"
    "region = eu-west-3\n"
)

CASES = [
    Case(
        "comments_kept",
        "dev",
        "# credentials for the team\n"
        "; managed by hand\n"
        "[dev]\n"
        "# rotated quarterly\n"
        "aws_access_key_id = AKIAOLD\n"
        "; the secret\n"
        "aws_secret_access_key = OLDSECRET\n"
        "#aws_access_key_id = AKIACOMMENTED\n"
        "  ; aws_secret_access_key = COMMENTED\n",
        "# credentials for the team\n"
        "; managed by hand\n"
        "[dev]\n"
        "# rotated quarterly\n"
        "aws_access_key_id = AKIANEW\n"
        "; the secret\n"
        "aws_secret_access_key = NEWSECRET\n"
        "#aws_access_key_id = AKIACOMMENTED\n"
        "  ; aws_secret_access_key = COMMENTED\n",
    ),
    Case(
        "blank_lines",
        "dev",
        "\n"
        "[other]\n"
        "region = eu-west-1\n"
        "\n"
        "\n"
        "[dev]\n"
        "\n"
        "aws_access_key_id = AKIAOLD\n"
        "\n"
        "aws_secret_access_key = OLDSECRET\n"
        "\n",
        "\n"
        "[other]\n"
        "region = eu-west-1\n"
        "\n"
        "\n"
        "[dev]\n"
        "\n"
        "aws_access_key_id = AKIANEW\n"
        "\n"
        "aws_secret_access_key = NEWSECRET\n"
        "\n",
    ),
    Case(
        "no_spaces",
        "dev",
        "[dev]\naws_access_key_id=AKIAOLD\naws_secret_access_key=OLDSECRET\nregion=us-east-1\n",
        "[dev]\naws_access_key_id=AKIANEW\naws_secret_access_key=NEWSECRET\nregion=us-east-1\n",
        "[dev]\naws_access_key_id = AKIANEW\naws_secret_access_key = NEWSECRET\nregion=us-east-1\n",
    ),
    Case(
        "wide_spaces",
        "dev",
        "[dev]\naws_access_key_id   =   AKIAOLD\naws_secret_access_key  =  OLDSECRET\n",
        "[dev]\naws_access_key_id   =   AKIANEW\naws_secret_access_key  =  NEWSECRET\n",
        "[dev]\naws_access_key_id = AKIANEW\naws_secret_access_key = NEWSECRET\n",
    ),
    Case(
        "tabs",
        "dev",
        "[dev]\naws_access_key_id\t=\tAKIAOLD\naws_secret_access_key\t= OLDSECRET\n",
        "[dev]\naws_access_key_id\t=\tAKIANEW\naws_secret_access_key\t= NEWSECRET\n",
        "[dev]\naws_access_key_id = AKIANEW\naws_secret_access_key = NEWSECRET\n",
    ),
    Case(
        # The CLI's writer would un-indent the targets and so swallow the next (indented) line.
        "tab_indented_options",
        "dev",
        "[dev]\n\taws_access_key_id\t=\tAKIAOLD\n\taws_secret_access_key = OLDSECRET\n"
        "\tregion = x\n",
        "[dev]\n\taws_access_key_id\t=\tAKIANEW\n\taws_secret_access_key = NEWSECRET\n"
        "\tregion = x\n",
    ),
    Case(
        "trailing_spaces",
        "dev",
        "[dev]  \n"
        "aws_access_key_id = AKIAOLD   \n"
        "aws_secret_access_key = OLDSECRET\t\n"
        "region = eu-west-1  \n",
        "[dev]  \n"
        "aws_access_key_id = AKIANEW\n"
        "aws_secret_access_key = NEWSECRET\n"
        "region = eu-west-1  \n",
    ),
    Case(
        "colon_separator",
        "dev",
        "[dev]\naws_access_key_id: AKIAOLD\naws_secret_access_key : OLDSECRET\n",
        "[dev]\naws_access_key_id: AKIANEW\naws_secret_access_key : NEWSECRET\n",
        "[dev]\naws_access_key_id = AKIANEW\naws_secret_access_key = NEWSECRET\n",
    ),
    Case(
        "default_section",
        "default",
        CONFIG,
        "[default]\n"
        "region = us-east-1\n"
        "aws_access_key_id = AKIANEW\n"
        "aws_secret_access_key = NEWSECRET\n"
        "\n"
        "[dev]\n"
        "aws_access_key_id = AKIAOLD\n"
        "aws_secret_access_key = OLDSECRET\n"
        "\n"
        "[profile dev]\n"
        "aws_access_key_id = AKIAOLD\n"
        "aws_secret_access_key = OLDSECRET\n"
        "output = json\n",
    ),
    Case(
        "plain_section_not_profile",
        "dev",
        CONFIG,
        "[default]\n"
        "region = us-east-1\n"
        "aws_access_key_id = AKIAOLD\n"
        "aws_secret_access_key = OLDSECRET\n"
        "\n"
        "[dev]\n"
        "aws_access_key_id = AKIANEW\n"
        "aws_secret_access_key = NEWSECRET\n"
        "\n"
        "[profile dev]\n"
        "aws_access_key_id = AKIAOLD\n"
        "aws_secret_access_key = OLDSECRET\n"
        "output = json\n",
    ),
    Case(
        "profile_section_not_plain",
        "profile dev",
        CONFIG,
        "[default]\n"
        "region = us-east-1\n"
        "aws_access_key_id = AKIAOLD\n"
        "aws_secret_access_key = OLDSECRET\n"
        "\n"
        "[dev]\n"
        "aws_access_key_id = AKIAOLD\n"
        "aws_secret_access_key = OLDSECRET\n"
        "\n"
        "[profile dev]\n"
        "aws_access_key_id = AKIANEW\n"
        "aws_secret_access_key = NEWSECRET\n"
        "output = json\n",
    ),
    Case(
        "shared_key_target_first",
        "a",
        SHARED,
        "[a]\n"
        "aws_access_key_id = AKIANEW\n"
        "aws_secret_access_key = NEWSECRET\n"
        "region = eu-west-1\n"
        "\n"
        "[b]\n"
        "aws_access_key_id = AKIAOLD\n"
        "aws_secret_access_key = OLDSECRET\n"
        "region = eu-west-2\n"
        "\n"
        "[c]\n"
        "aws_access_key_id = AKIAOLD\n"
        "aws_secret_access_key = OLDSECRET\n"
        "region = eu-west-3\n",
    ),
    Case(
        "shared_key_target_middle",
        "b",
        SHARED,
        "[a]\n"
        "aws_access_key_id = AKIAOLD\n"
        "aws_secret_access_key = OLDSECRET\n"
        "region = eu-west-1\n"
        "\n"
        "[b]\n"
        "aws_access_key_id = AKIANEW\n"
        "aws_secret_access_key = NEWSECRET\n"
        "region = eu-west-2\n"
        "\n"
        "[c]\n"
        "aws_access_key_id = AKIAOLD\n"
        "aws_secret_access_key = OLDSECRET\n"
        "region = eu-west-3\n",
    ),
    Case(
        "shared_key_target_last",
        "c",
        SHARED,
        "[a]\n"
        "aws_access_key_id = AKIAOLD\n"
        "aws_secret_access_key = OLDSECRET\n"
        "region = eu-west-1\n"
        "\n"
        "[b]\n"
        "aws_access_key_id = AKIAOLD\n"
        "aws_secret_access_key = OLDSECRET\n"
        "region = eu-west-2\n"
        "\n"
        "[c]\n"
        "aws_access_key_id = AKIANEW\n"
        "aws_secret_access_key = NEWSECRET\n"
        "region = eu-west-3\n",
    ),
    Case(
        "crlf",
        "dev",
        "; team keys\r\n"
        "[other]\r\n"
        "region = eu-west-1\r\n"
        "\r\n"
        "[dev]\r\n"
        "aws_access_key_id = AKIAOLD\r\n"
        "aws_secret_access_key=OLDSECRET\r\n"
        "output = json\r\n",
        "; team keys\r\n"
        "[other]\r\n"
        "region = eu-west-1\r\n"
        "\r\n"
        "[dev]\r\n"
        "aws_access_key_id = AKIANEW\r\n"
        "aws_secret_access_key=NEWSECRET\r\n"
        "output = json\r\n",
    ),
    Case(
        "crlf_no_trailing_newline",
        "dev",
        "[dev]\r\naws_access_key_id = AKIAOLD\r\naws_secret_access_key = OLDSECRET",
        "[dev]\r\naws_access_key_id = AKIANEW\r\naws_secret_access_key = NEWSECRET",
    ),
    Case(
        "crlf_missing_secret",
        "dev",
        "[dev]\r\naws_access_key_id = AKIAOLD\r\nregion = x\r\n\r\n[b]\r\nregion = y\r\n",
        "[dev]\r\n"
        "aws_access_key_id = AKIANEW\r\n"
        "region = x\r\n"
        "aws_secret_access_key = NEWSECRET\r\n"
        "\r\n"
        "[b]\r\n"
        "region = y\r\n",
    ),
    Case(
        "cr_only_missing_secret",
        "dev",
        "[dev]\raws_access_key_id = AKIAOLD\r",
        "[dev]\raws_access_key_id = AKIANEW\raws_secret_access_key = NEWSECRET\r",
    ),
    Case(
        # configparser splits lines at \r and \n only: these comments are one line each.
        "form_feed_in_comment",
        "dev",
        "[dev]\n"
        "# page\x0caws_access_key_id = AKIACOMMENTED\n"
        "; group\x1caws_secret_access_key = COMMENTED\n"
        "aws_access_key_id = AKIAOLD\n",
        "[dev]\n"
        "# page\x0caws_access_key_id = AKIACOMMENTED\n"
        "; group\x1caws_secret_access_key = COMMENTED\n"
        "aws_access_key_id = AKIANEW\n"
        "aws_secret_access_key = NEWSECRET\n",
    ),
    Case(
        "upper_case_options",
        "dev",
        "[dev]\n"
        "AWS_ACCESS_KEY_ID = AKIAOLD\n"
        "Aws_Secret_Access_Key = OLDSECRET\n"
        "\n"
        "[b]\n"
        "aws_access_key_id = AKIAOLD\n"
        "aws_secret_access_key = OLDSECRET\n",
        "[dev]\n"
        "AWS_ACCESS_KEY_ID = AKIANEW\n"
        "Aws_Secret_Access_Key = NEWSECRET\n"
        "\n"
        "[b]\n"
        "aws_access_key_id = AKIAOLD\n"
        "aws_secret_access_key = OLDSECRET\n",
    ),
    Case(
        "odd_profile_header",
        "profile  dev ",
        "[profile dev]\nregion = x\n\n[profile  dev ]\naws_access_key_id = AKIAOLD\n"
        "aws_secret_access_key = OLDSECRET\n",
        "[profile dev]\nregion = x\n\n[profile  dev ]\naws_access_key_id = AKIANEW\n"
        "aws_secret_access_key = NEWSECRET\n",
    ),
    Case(
        "spaces_inside_brackets",
        " dev ",
        "[ dev ]\naws_access_key_id = AKIAOLD\naws_secret_access_key = OLDSECRET\n",
        "[ dev ]\naws_access_key_id = AKIANEW\naws_secret_access_key = NEWSECRET\n",
    ),
    Case(
        "text_after_header",
        "dev",
        "[dev] # the old account\naws_access_key_id = AKIAOLD\naws_secret_access_key = OLDSECRET\n",
        "[dev] # the old account\naws_access_key_id = AKIANEW\naws_secret_access_key = NEWSECRET\n",
    ),
    Case(
        # The CLI's writer takes [profile "dev"] for [profile dev]; that must not be accepted.
        "quoted_header_before_target",
        "profile dev",
        '[profile "dev"]\naws_access_key_id = AKIAQUOTED\naws_secret_access_key = QUOTED\n\n'
        "[profile dev]\naws_access_key_id = AKIAOLD\naws_secret_access_key = OLDSECRET\n",
        '[profile "dev"]\naws_access_key_id = AKIAQUOTED\naws_secret_access_key = QUOTED\n\n'
        "[profile dev]\naws_access_key_id = AKIANEW\naws_secret_access_key = NEWSECRET\n",
    ),
    Case(
        "no_trailing_newline_target_last",
        "dev",
        "[a]\nregion = x\n\n[dev]\naws_access_key_id = AKIAOLD\naws_secret_access_key = OLDSECRET",
        "[a]\nregion = x\n\n[dev]\naws_access_key_id = AKIANEW\naws_secret_access_key = NEWSECRET",
        "[a]\nregion = x\n\n[dev]\naws_access_key_id = AKIANEW\n"
        "aws_secret_access_key = NEWSECRET\n",
    ),
    Case(
        "no_trailing_newline_other_last",
        "dev",
        "[dev]\naws_access_key_id = AKIAOLD\naws_secret_access_key = OLDSECRET\n\n[b]\nregion = x",
        "[dev]\naws_access_key_id = AKIANEW\naws_secret_access_key = NEWSECRET\n\n[b]\nregion = x",
    ),
    Case(
        "missing_secret_added_in_its_section",
        "dev",
        "[dev]\n"
        "aws_access_key_id = AKIAOLD\n"
        "region = x\n"
        "# end of dev\n"
        "\n"
        "[b]\n"
        "aws_access_key_id = AKIAOLD\n"
        "aws_secret_access_key = OLDSECRET\n",
        "[dev]\n"
        "aws_access_key_id = AKIANEW\n"
        "region = x\n"
        "aws_secret_access_key = NEWSECRET\n"
        "# end of dev\n"
        "\n"
        "[b]\n"
        "aws_access_key_id = AKIAOLD\n"
        "aws_secret_access_key = OLDSECRET\n",
    ),
    Case(
        "missing_secret_no_trailing_newline",
        "dev",
        "[dev]\naws_access_key_id = AKIAOLD",
        "[dev]\naws_access_key_id = AKIANEW\naws_secret_access_key = NEWSECRET\n",
    ),
    Case(
        "missing_secret_after_nested_value",
        "profile dev",
        "[profile dev]\n"
        "aws_access_key_id = AKIAOLD\n"
        "s3 =\n"
        "    max_concurrent_requests = 20\n"
        "\n"
        "[profile b]\n"
        "region = x\n",
        "[profile dev]\n"
        "aws_access_key_id = AKIANEW\n"
        "s3 =\n"
        "    max_concurrent_requests = 20\n"
        "aws_secret_access_key = NEWSECRET\n"
        "\n"
        "[profile b]\n"
        "region = x\n",
    ),
    Case(
        "nested_values_untouched",
        "profile dev",
        "[profile dev]\n"
        "s3 =\n"
        "    max_concurrent_requests = 20\n"
        "    multipart_threshold = 64MB\n"
        "aws_access_key_id = AKIAOLD\n"
        "aws_secret_access_key = OLDSECRET\n"
        "dynamodb =\n"
        "  endpoint_url = http://localhost:8000\n",
        "[profile dev]\n"
        "s3 =\n"
        "    max_concurrent_requests = 20\n"
        "    multipart_threshold = 64MB\n"
        "aws_access_key_id = AKIANEW\n"
        "aws_secret_access_key = NEWSECRET\n"
        "dynamodb =\n"
        "  endpoint_url = http://localhost:8000\n",
    ),
    Case(
        # The CLI's writer would rewrite (and un-indent) the nested line of the same name.
        "nested_value_of_the_same_name",
        "profile dev",
        "[profile dev]\n"
        "s3 =\n"
        "    aws_access_key_id = AKIANESTED\n"
        "aws_access_key_id = AKIAOLD\n"
        "aws_secret_access_key = OLDSECRET\n",
        "[profile dev]\n"
        "s3 =\n"
        "    aws_access_key_id = AKIANESTED\n"
        "aws_access_key_id = AKIANEW\n"
        "aws_secret_access_key = NEWSECRET\n",
    ),
]

REFUSED = [
    pytest.param(
        "dev",
        b"[dev]\naws_access_key_id = AKIAOLD\naws_secret_access_key = OLDSECRET\n    continued\n",
        id="target_value_continues_on_next_line",
    ),
    pytest.param("dev", b"[other]\naws_access_key_id = AKIAOLD\n", id="target_section_missing"),
    pytest.param(
        "dev",
        b"[dev]\naws_access_key_id = AKIAOLD\n[dev]\naws_secret_access_key = OLDSECRET\n",
        id="unparsable_duplicate_section",
    ),
    pytest.param(
        "dev",
        b"[dev]\n# caf\xe9\naws_access_key_id = AKIAOLD\n",
        id="not_utf8",
    ),
]


def load(path: Path) -> dict[str, dict[str, object]]:
    result: dict[str, dict[str, object]] = raw_config_parse(str(path))
    return result


def write(path: Path, data: bytes, mode: int = 0o600) -> Path:
    path.write_bytes(data)
    os.chmod(path, mode)
    return path


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("writer", WRITERS.values(), ids=WRITERS.keys())
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_only_the_target_values_change(
    tmp_path: Path, case: Case, writer: Callable[[], ConfigWriter | None]
) -> None:
    path = write(tmp_path / "credentials", case.before.encode())
    expected = load(path)
    expected[case.section].update(NEW)
    the_writer = writer()
    warnings: list[str] = []

    written = update_file(str(path), {case.section: NEW}, the_writer, warnings.append)

    after = case.after_cli if the_writer is not None and case.after_cli else case.after
    assert path.read_bytes() == after.encode()
    assert load(path) == expected
    assert written == str(path.resolve())
    assert os.listdir(tmp_path) == ["credentials"]
    assert warnings == []


@pytest.mark.parametrize("writer", WRITERS.values(), ids=WRITERS.keys())
@pytest.mark.parametrize(("section", "before"), REFUSED)
def test_refused_leaves_the_file_as_it_was(
    tmp_path: Path, section: str, before: bytes, writer: Callable[[], ConfigWriter | None]
) -> None:
    path = write(tmp_path / "credentials", before, 0o644)
    warnings: list[str] = []

    with pytest.raises(Refused, match="credentials"):
        update_file(str(path), {section: NEW}, writer(), warnings.append)

    assert path.read_bytes() == before
    assert mode_of(path) == 0o644
    assert os.listdir(tmp_path) == ["credentials"]


@pytest.mark.parametrize("writer", WRITERS.values(), ids=WRITERS.keys())
def test_the_old_file_is_replaced_never_rewritten(
    tmp_path: Path, writer: Callable[[], ConfigWriter | None]
) -> None:
    before = b"[dev]\naws_access_key_id = AKIAOLD\naws_secret_access_key = OLDSECRET\n"
    path = write(tmp_path / "credentials", before)
    with open(path, "rb") as old:
        update_file(str(path), {"dev": NEW}, writer(), lambda _: None)
        assert old.read() == before  # a reader holding the old file never sees a half write
        assert os.fstat(old.fileno()).st_ino != os.stat(path).st_ino


def test_a_symlink_stays_a_link_and_its_target_is_replaced(tmp_path: Path) -> None:
    real_dir, link_dir = tmp_path / "real", tmp_path / "home"
    real_dir.mkdir()
    link_dir.mkdir()
    target = write(real_dir / "credentials", b"[dev]\naws_access_key_id = AKIAOLD\n")
    link = link_dir / "credentials"
    link.symlink_to(os.path.join("..", "real", "credentials"))
    old_inode, link_inode = os.stat(target).st_ino, os.lstat(link).st_ino

    written = update_file(str(link), {"dev": NEW}, ConfigFileWriter(), lambda _: None)

    assert written == str(target.resolve())
    assert link.is_symlink()
    assert os.readlink(link) == os.path.join("..", "real", "credentials")
    assert os.lstat(link).st_ino == link_inode
    assert os.stat(target).st_ino != old_inode
    assert target.read_bytes() == (
        b"[dev]\naws_access_key_id = AKIANEW\naws_secret_access_key = NEWSECRET\n"
    )
    assert os.listdir(real_dir) == ["credentials"]
    assert os.listdir(link_dir) == ["credentials"]


def test_write_atomically_follows_a_symlink(tmp_path: Path) -> None:
    target = write(tmp_path / "journal.json", b"{}", 0o600)
    link = tmp_path / "link.json"
    link.symlink_to("journal.json")

    written = write_atomically(str(link), b'{"step": 1}', 0o600)

    assert written == str(target.resolve())
    assert link.is_symlink() and os.readlink(link) == "journal.json"
    assert target.read_bytes() == b'{"step": 1}'
    assert sorted(os.listdir(tmp_path)) == ["journal.json", "link.json"]


@pytest.mark.parametrize(
    ("before", "after", "warned"),
    [
        pytest.param(0o644, 0o600, True, id="0644_tightened"),
        pytest.param(0o640, 0o600, True, id="0640_tightened"),
        pytest.param(0o600, 0o600, False, id="0600_kept"),
        pytest.param(0o400, 0o400, False, id="0400_kept"),
    ],
)
@pytest.mark.parametrize("writer", WRITERS.values(), ids=WRITERS.keys())
def test_modes(
    tmp_path: Path,
    before: int,
    after: int,
    warned: bool,
    writer: Callable[[], ConfigWriter | None],
) -> None:
    path = write(tmp_path / "credentials", b"[dev]\naws_access_key_id = AKIAOLD\n", before)
    warnings: list[str] = []

    update_file(str(path), {"dev": NEW}, writer(), warnings.append)

    assert mode_of(path) == after
    assert len(warnings) == (1 if warned else 0)
    if warned:
        assert str(path) in warnings[0] and f"{before:o}" in warnings[0]
    assert os.listdir(tmp_path) == ["credentials"]


@pytest.mark.parametrize(
    ("mode", "safe"),
    [(0o600, 0o600), (0o644, 0o600), (0o640, 0o600), (0o604, 0o600), (0o700, 0o600),
     (0o666, 0o600), (0o400, 0o400), (0o444, 0o400), (0o200, 0o200), (0o000, 0o000)],
    ids=lambda m: f"{m:o}",
)  # fmt: skip
def test_safe_mode(mode: int, safe: int) -> None:
    assert safe_mode(mode) == safe


# --- the run lock ---------------------------------------------------------------------------

HOLD_LOCK = """
import sys, time
from awscli_rotate_key.rotate.credfile import locked
with locked(sys.argv[1], 5):
    print("locked", flush=True)
    time.sleep(60)
"""


@pytest.fixture(params=["directory", "file"])
def lock_path(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "directory":
        return str(tmp_path)
    path = tmp_path / "lock"
    path.touch(mode=0o600)
    return str(path)


def _child_holding(lock_path: str) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, lock_path], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    assert child.stdout.readline() == "locked\n"
    return child


def test_a_second_lock_in_another_thread_times_out(lock_path: str) -> None:
    errors: list[BaseException] = []

    def second() -> None:
        started = time.monotonic()
        try:
            with locked(lock_path, timeout=0.3, poll=0.05):
                pass
        except LockTimeout as error:
            errors.append(error)
        assert 0.3 <= time.monotonic() - started < 2.0

    with locked(lock_path, timeout=1):
        thread = threading.Thread(target=second)
        thread.start()
        thread.join(5)
    assert not thread.is_alive()
    assert len(errors) == 1 and "nothing was changed" in str(errors[0])


def test_a_lock_held_by_another_process_times_out(lock_path: str) -> None:
    child = _child_holding(lock_path)
    try:
        started = time.monotonic()
        with pytest.raises(LockTimeout), locked(lock_path, timeout=0.3, poll=0.05):
            pass
        assert 0.3 <= time.monotonic() - started < 2.0
    finally:
        child.kill()
        child.wait()


def test_a_lock_held_by_a_killed_process_does_not_block(lock_path: str) -> None:
    child = _child_holding(lock_path)
    with pytest.raises(LockTimeout), locked(lock_path, timeout=0):
        pass
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(5) == -signal.SIGKILL

    started = time.monotonic()
    with locked(lock_path, timeout=2):
        assert time.monotonic() - started < 1.0


def test_the_lock_is_released_when_the_block_raises(lock_path: str) -> None:
    with pytest.raises(ValueError), locked(lock_path, timeout=1):
        raise ValueError("boom")
    with locked(lock_path, timeout=0):
        pass
