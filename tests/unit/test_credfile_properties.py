"""Properties of the file updater over generated credentials/config files and injected faults."""

from __future__ import annotations

import contextlib
import copy
import errno
import os
import re
import stat
import string
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from unittest import mock

import pytest
from awscli.customizations.configure.writer import ConfigFileWriter
from botocore.configloader import raw_config_parse
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from awscli_rotate_key.rotate.credfile import (
    ConfigWriter,
    line_edit,
    safe_mode,
    update_file,
    updated_text,
)

SAFE = string.ascii_letters + string.digits + "/+"
# Longer than any generated value, so a line holding one can never be mistaken for another.
NEW = {"aws_access_key_id": "AKIA" + "N" * 36, "aws_secret_access_key": "S/" + "n+" * 19}
OPTIONS = ["aws_access_key_id", "aws_secret_access_key", "aws_session_token", "region", "output"]
NESTED = ["s3", "dynamodb"]
SEPARATORS = ["=", " = ", "   =   ", "\t=\t", " =", "= ", ":", " : "]
BASE_NAMES = ["default", "dev", "prod", "ci", "a", "b", "c", "x-1", "team.ops"]
HEADERS = [  # (header line, the raw section name configparser reads from it)
    ("[{}]", "{}"),
    ("[profile {}]", "profile {}"),
    ("[profile  {} ]", "profile  {} "),
    ("[ {} ]", " {} "),
    ("[{}]  ", "{}"),
    ("[{}] # note", "{}"),
]
WRITERS = {"cli_writer": ConfigFileWriter(), "line_edit": None}
PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@dataclass(frozen=True)
class Line:
    text: str
    section: str | None  # raw name of the section the line is in
    option: str | None = None  # lower-cased name, for a top-level option line


@dataclass(frozen=True)
class File:
    lines: list[Line]
    target: str
    eol: str

    @property
    def text(self) -> str:
        return "".join(line.text for line in self.lines)


def split_lines(text: str) -> list[str]:
    """Lines as Python's universal newlines (and so configparser) see them, ends kept."""
    return re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+", text)


def load(text: str) -> dict[str, dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "f")
        with open(path, "wb") as f:
            f.write(text.encode())
        result: dict[str, dict[str, Any]] = raw_config_parse(path)
        return result


values = st.text(SAFE, max_size=12)
spaces = st.sampled_from(["", " ", "  ", "\t"])


@st.composite
def filler(draw: st.DrawFn, section: str | None, eol: str) -> Line:
    """A blank or comment line (comments may look like options or headers)."""
    kind = draw(st.sampled_from(["blank", "comment"]))
    if kind == "blank":
        return Line(draw(spaces) + eol, section)
    body = draw(
        st.one_of(
            st.text(SAFE + " =:[]\x0c\x1c", max_size=20),  # \x0c, \x1c: not line breaks here
            st.sampled_from(["aws_access_key_id = AKIAOLD", "[dev]", "aws_secret_access_key="]),
        )
    )
    return Line(draw(spaces) + draw(st.sampled_from("#;")) + body + eol, section)


@st.composite
def option(draw: st.DrawFn, section: str, name: str, lead: str, eol: str) -> list[Line]:
    """An option line, in any case and spacing; a nested name gets indented sub-options."""
    if name in NESTED:
        subnames = draw(st.lists(st.sampled_from(["aws_access_key_id", "max_attempts", "x"]),
                                 min_size=1, max_size=3, unique=True))  # fmt: skip
        sub = [Line(f"{lead}    {s} = {draw(values)}{eol}", section) for s in subnames]
        return [Line(f"{lead}{name} ={eol}", section, name), *sub]
    spelled = draw(st.sampled_from([name, name, name.upper(), name.title()]))
    value = "AKIAOLD" if name == "aws_access_key_id" and draw(st.booleans()) else draw(values)
    text = lead + spelled + draw(st.sampled_from(SEPARATORS)) + value + draw(spaces) + eol
    return [Line(text, section, name)]


@st.composite
def section(draw: st.DrawFn, base: str, eol: str, holds_key: bool) -> list[Line]:
    header, raw = ("[default]", "default") if base == "default" else draw(st.sampled_from(HEADERS))
    raw = raw.format(base)
    lines = [Line(header.format(base) + eol, raw)]
    lead = draw(st.sampled_from(["", "", "  "]))  # options of a section share an indent
    names = draw(st.lists(st.sampled_from(OPTIONS + NESTED), max_size=5, unique=True))
    for name in ["aws_access_key_id", "aws_secret_access_key"] if holds_key else []:
        if name not in names and (name == "aws_access_key_id" or draw(st.booleans())):
            names.insert(draw(st.integers(0, len(names))), name)
    for name in names:
        lines += draw(st.lists(filler(raw, eol), max_size=2))
        lines += draw(option(raw, name, lead, eol))
    return lines + draw(st.lists(filler(raw, eol), max_size=2))


@st.composite
def ini_files(draw: st.DrawFn) -> File:
    eol = draw(st.sampled_from(["\n", "\n", "\r\n"]))
    bases = draw(st.lists(st.sampled_from(BASE_NAMES), min_size=1, max_size=6, unique=True))
    target = draw(st.integers(0, len(bases) - 1))
    lines = draw(st.lists(filler(None, eol), max_size=2))
    sections: list[list[Line]] = []
    for i, base in enumerate(bases):
        sections.append(draw(section(base, eol, i == target or draw(st.booleans()))))
        lines += sections[-1]
    if not draw(st.booleans()):  # no newline at the end of the file
        last = lines.pop()
        if last.text != eol:
            lines.append(Line(last.text.removesuffix(eol), last.section, last.option))
    return File(lines, sections[target][0].section or "", eol)


def _assert_only_target_lines_changed(file: File, out: str) -> None:
    """Walk both files: every line keeps its bytes but target lines and added target options."""
    new, old = split_lines(out), file.lines
    missing = {name for name in NEW} - {
        line.option for line in old if line.section == file.target and line.option
    }
    j = 0
    for i, line in enumerate(old):
        last = i == len(old) - 1
        while j < len(new) and not _same(line, new[j], file, last):
            assert i > 0 and old[i - 1].section == file.target, f"{new[j]!r} outside its section"
            missing.discard(_added_option(new[j]))
            j += 1
        assert j < len(new), f"line {line.text!r} was lost"
        j += 1
    for extra in new[j:]:
        assert old[-1].section == file.target, f"{extra!r} outside its section"
        missing.discard(_added_option(extra))
    assert not missing, f"{missing} not added"


def _same(line: Line, new: str, file: File, last: bool) -> bool:
    """True when ``new`` is ``line`` kept (or, for a target, with its new value)."""
    eols = [line.text[len(line.text.rstrip("\r\n")) :]]
    if last and not eols[0]:
        eols.append(file.eol)  # the last line may gain the file's line ending
    body = line.text.rstrip("\r\n")
    if line.section == file.target and line.option in NEW:
        name, value = re.escape(line.option), re.escape(NEW[line.option])
        pattern = rf"[ \t]*{name}[ \t]*[=:][ \t]*{value}"
        return any(re.fullmatch(pattern + re.escape(e), new, re.IGNORECASE) for e in eols)
    return any(new == body + e for e in eols)


def _added_option(line: str) -> str:
    match = re.fullmatch(r"(\w+) = (\S+)(\r\n|\n)", line)
    assert match and NEW.get(match.group(1)) == match.group(2), f"unexpected line {line!r}"
    return match.group(1)


@pytest.mark.parametrize("writer", WRITERS.values(), ids=WRITERS.keys())
@PROPERTY_SETTINGS
@given(file=ini_files())
def test_only_the_target_values_change(file: File, writer: ConfigWriter | None) -> None:
    text = file.text
    assert split_lines(text) == [line.text for line in file.lines]
    expected = copy.deepcopy(load(text))
    expected[file.target].update(NEW)

    out = updated_text(text, {file.target: NEW}, writer)

    event("CRLF" if file.eol == "\r\n" else "LF")
    event("secret added" if len(split_lines(out)) > len(file.lines) else "values replaced")
    if writer is not None and out != line_edit(text, {file.target: NEW}):
        event("the CLI's writer's text was taken")
    assert load(out) == expected
    _assert_only_target_lines_changed(file, out)


@settings(max_examples=100, deadline=None)
@given(mode=st.integers(0, 0o777))
def test_safe_mode_never_loosens_and_hides_secrets(mode: int) -> None:
    safe = safe_mode(mode)
    assert safe & ~mode == 0
    assert safe & 0o177 == 0
    assert safe == mode or mode & 0o177


# --- faults at every step of the atomic write ------------------------------------------------

BEFORE = b"; keys\n[dev]\naws_access_key_id = AKIAOLD\naws_secret_access_key = OLDSECRET\n"
AFTER = (
    f"; keys\n[dev]\naws_access_key_id = {NEW['aws_access_key_id']}\n"
    f"aws_secret_access_key = {NEW['aws_secret_access_key']}\n"
).encode()


class Faults:
    """Counts the steps of a write (system calls, file writes) and fails the one numbered ``at``."""

    def __init__(self, at: int | None = None, error: BaseException | None = None) -> None:
        self.at, self.error, self.steps = at, error, list[str]()

    def step(self, name: str) -> None:
        self.steps.append(name)
        if len(self.steps) - 1 == self.at:
            assert self.error is not None
            raise self.error

    def wrap(self, name: str, real: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.step(name)
            return real(*args, **kwargs)

        return call

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        real_fdopen = os.fdopen

        def fdopen(*args: Any, **kwargs: Any) -> Any:
            return _FaultyFile(real_fdopen(*args, **kwargs), self)

        with contextlib.ExitStack() as stack:
            stack.enter_context(mock.patch.object(os, "fdopen", fdopen))
            for module, name in [(tempfile, "mkstemp"), (os, "fchmod"), (os, "fchown"),
                                 (os, "fsync"), (os, "replace")]:  # fmt: skip
                real = getattr(module, name)
                stack.enter_context(mock.patch.object(module, name, self.wrap(name, real)))
            yield


class _FaultyFile:
    def __init__(self, real: Any, faults: Faults) -> None:
        self._real, self._faults = real, faults

    def __enter__(self) -> _FaultyFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._real.close()

    def write(self, data: bytes) -> int:
        self._faults.step("write")
        return int(self._real.write(data))

    def flush(self) -> None:
        self._faults.step("flush")
        self._real.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _run(directory: str, mode: int, faults: Faults, writer: ConfigWriter | None) -> str:
    path = os.path.join(directory, "credentials")
    with open(path, "wb") as f:
        f.write(BEFORE)
    os.chmod(path, mode)
    with faults.installed():
        update_file(path, {"dev": NEW}, writer, lambda _: None)
    return path


_STEPS: dict[int, list[str]] = {}


def _steps(writer: ConfigWriter | None) -> list[str]:
    """The steps of a write that succeeds."""
    if id(writer) not in _STEPS:
        with tempfile.TemporaryDirectory() as tmp:
            faults = Faults()
            _run(tmp, 0o600, faults, writer)
            _STEPS[id(writer)] = faults.steps
    return _STEPS[id(writer)]


@pytest.mark.parametrize("writer", WRITERS.values(), ids=WRITERS.keys())
def test_the_data_is_synced_before_the_rename_and_the_directory_after(
    writer: ConfigWriter | None,
) -> None:
    steps = _steps(writer)
    assert steps[0] == "mkstemp"
    replace = steps.index("replace")
    assert steps.count("replace") == 1
    assert steps.index("write") < steps.index("flush") < steps.index("fsync") < replace
    assert steps.index("fchmod") < replace
    assert "fsync" in steps[replace + 1 :], "the directory is not synced after the rename"


@pytest.mark.parametrize("writer", WRITERS.values(), ids=WRITERS.keys())
@settings(max_examples=60, deadline=None)
@given(data=st.data(), mode=st.sampled_from([0o600, 0o644, 0o400]))
def test_a_failure_at_any_step_leaves_the_file_as_it_was(
    data: st.DataObject, mode: int, writer: ConfigWriter | None
) -> None:
    steps = _steps(writer)
    replace = steps.index("replace")
    at = data.draw(st.integers(0, len(steps) - 1), label=f"failing step of {steps}")
    # Ctrl-C can come at any moment; one after the rename cannot be undone, so only OSError there.
    interrupts = [KeyboardInterrupt()] if at <= replace else []
    error = data.draw(st.sampled_from([OSError(errno.ENOSPC, "disk full"), *interrupts]))
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = _run(tmp, mode, Faults(at, error), writer)
        except (OSError, KeyboardInterrupt) as raised:
            assert raised is error
            path = os.path.join(tmp, "credentials")
            with open(path, "rb") as f:
                assert f.read() == BEFORE
            assert stat.S_IMODE(os.stat(path).st_mode) == mode
        else:
            # A failure while the CLI writer works on its private copy only makes the update
            # fall back to the line edit; one in the atomic write itself must be reported.
            atomic = len(steps) - 1 - steps[::-1].index("mkstemp")
            assert at > replace or at < atomic, f"a failure at {steps[at]} was not reported"
            with open(path, "rb") as f:
                assert f.read() == AFTER
            assert stat.S_IMODE(os.stat(path).st_mode) == safe_mode(mode)
        assert os.listdir(tmp) == ["credentials"]
