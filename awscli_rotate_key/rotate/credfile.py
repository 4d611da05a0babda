"""Atomic, comment-preserving updates of the AWS credentials and config files; the run lock.

An update is computed on a copy, checked by parsing it with botocore's own loader (only the
target values may change), then swapped in with ``os.replace``. The AWS CLI's ConfigFileWriter is
used where it is faithful; where it is not (CRLF files, upper-case keys, odd headers, ...) a
minimal line edit is used instead. If neither gives a file that parses to exactly the expected
values, the file is left as it was. The run lock lives in ``locking`` (re-exported here).
"""

from __future__ import annotations

import configparser
import contextlib
import io
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

from awscli_rotate_key.errors import Refused
from awscli_rotate_key.rotate import oscalls
from awscli_rotate_key.rotate.locking import LockTimeout as LockTimeout
from awscli_rotate_key.rotate.locking import locked as locked

Edits = Mapping[str, Mapping[str, str]]  # raw section header -> {option: value}

_OPTION = re.compile(
    r"^(?P<lead>[ \t]*)(?P<name>[^=:\s][^=:]*?)(?P<sep>[ \t]*[=:][ \t]*)(?P<value>.*?)"
    r"(?P<trail>[ \t]*)(?P<eol>\r\n|\n|\r)?$",
    re.DOTALL,
)


class ConfigWriter(Protocol):
    """The AWS CLI's ``ConfigFileWriter`` (passed in by the command layer)."""

    def update_config(self, new_values: dict[str, str], config_filename: str) -> None: ...


class Unparsable(ValueError):
    """botocore would not load this file."""


def parse(text: str) -> dict[str, dict[str, Any]]:
    """Parse INI text exactly as botocore's ``raw_config_parse`` does, in memory.

    (Never through a temporary file: the text holds secrets.)
    """
    parser = configparser.RawConfigParser()
    try:
        parser.read_file(io.StringIO(text, newline=None))  # universal newlines, as open() does
    except configparser.Error as error:
        raise Unparsable(str(error)) from None
    config: dict[str, dict[str, Any]] = {}
    for section in parser.sections():
        config[section] = {}
        for option in parser.options(section):
            value: Any = parser.get(section, option)
            if value.startswith("\n"):
                value = _parse_nested(value)
            config[section][option] = value
    return config


def _parse_nested(value: str) -> dict[str, str]:
    """botocore's one level of nesting (``s3 =`` followed by indented ``key = value`` lines)."""
    parsed = {}
    for line in value.splitlines():
        line = line.strip()
        if line:
            if "=" not in line:
                raise Unparsable(f"nested value without '=': {line[:20]!r}")
            key, nested = line.split("=", 1)
            parsed[key.strip()] = nested.strip()
    return parsed


def _section_header(stripped: str) -> str | None:
    """configparser's header rule: a stripped line matching ``\\[(.+)\\]`` (greedy)."""
    match = re.match(r"\[(?P<header>.+)\]", stripped)
    return match.group("header") if match else None


def scan(lines: list[str]) -> Iterator[tuple[int, str, str]]:
    """Yield (line index, section header, lower-cased option name) for top-level options."""
    section: str | None = None
    option_indent: int | None = None
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        indent = len(line) - len(line.lstrip(" \t"))
        if option_indent is not None and indent > option_indent:
            continue  # a continuation line or a nested value (s3 = ...)
        header = _section_header(stripped)
        if header is not None:
            section, option_indent = header, None
            continue
        match = _OPTION.match(line)
        if section is not None and match:
            option_indent = indent
            yield i, section, match.group("name").strip().lower()


def split_lines(text: str) -> list[str]:
    """Lines as configparser reads them (universal newlines), ends kept.

    Not ``str.splitlines``: it also splits at form feeds, ``\\x85``, ``\\u2028``, ...
    """
    return re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+", text)


def _value_end(lines: list[str], at: int) -> int:
    """The last line of the option at ``at``: its continuation lines (``s3 =`` ...) included."""
    end, indent = at, len(lines[at]) - len(lines[at].lstrip(" \t"))
    for j in range(at + 1, len(lines)):
        stripped = lines[j].strip()
        if not stripped or stripped[0] in "#;":
            continue
        if len(lines[j]) - len(lines[j].lstrip(" \t")) <= indent:
            break
        end = j
    return end


def line_edit(text: str, edits: Edits) -> str:
    """Set the options in place, keeping every other byte; add a missing option to its section."""
    lines = split_lines(text)
    pending = {section: dict(values) for section, values in edits.items()}
    last_option: dict[str, int] = {}
    for i, section, name in scan(lines):
        last_option[section] = i
        values = pending.get(section)
        if values is not None and name in values:
            match = _OPTION.match(lines[i])
            assert match is not None
            lines[i] = (
                match.group("lead")
                + match.group("name")
                + match.group("sep")
                + values.pop(name)
                + (match.group("eol") or "")
            )
    first_eol = re.search(r"\r\n|\r|\n", text)
    eol = first_eol.group() if first_eol else "\n"
    for section, values in pending.items():
        if values:
            if section not in last_option:
                raise KeyError(section)
            at = _value_end(lines, last_option[section])
            if not lines[at].endswith(("\n", "\r")):
                lines[at] += eol
            lines.insert(at + 1, "".join(f"{k} = {v}{eol}" for k, v in values.items()))
    return "".join(lines)


def with_writer(text: str, edits: Edits, writer: ConfigWriter, workdir: str | None = None) -> str:
    """Apply the edits with the AWS CLI's ConfigFileWriter on a private 0600 copy.

    The copy holds secrets: it lives in ``workdir`` (the target's own directory) and is removed
    at once.
    """
    fd, path = tempfile.mkstemp(dir=workdir, prefix=".rotate-my-key.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        for section, values in edits.items():
            writer.update_config({"__section__": section, **values}, path)
        with open(path, encoding="utf-8", newline="") as f:
            return f.read()
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _only_targets_differ(before: str, after: str, edits: Edits) -> bool:
    old, new = split_lines(before), split_lines(after)
    if len(old) != len(new):
        return False
    targets = {i for i, s, name in scan(old) if name in edits.get(s, {})}
    return all(a == b or i in targets for i, (a, b) in enumerate(zip(old, new, strict=True)))


def _expected(before: dict[str, dict[str, Any]], edits: Edits) -> dict[str, dict[str, Any]]:
    expected = {section: dict(values) for section, values in before.items()}
    for section, values in edits.items():
        expected[section].update(values)
    return expected


def updated_text(
    text: str, edits: Edits, writer: ConfigWriter | None, workdir: str | None = None
) -> str:
    """The new file text, checked; raises Refused when no faithful update exists.

    ``workdir``: where the writer's private copy may live (the target file's directory).
    """
    try:
        before = parse(text)
    except Unparsable:
        raise Refused("botocore cannot parse the file; it was left as is") from None
    missing = sorted(set(edits) - set(before))
    if missing:
        raise Refused(f"the file has no [{missing[0]}] section; it was left as is")
    expected = _expected(before, edits)
    candidates: list[Callable[[], str]] = []
    if writer is not None:
        candidates.append(lambda: with_writer(text, edits, writer, workdir))
    candidates.append(lambda: line_edit(text, edits))
    for make in candidates:
        try:
            candidate = make()
        except Exception:  # an unusable candidate; the next one is tried
            continue
        if _only_targets_differ(text, candidate, edits) or make is candidates[-1]:
            with contextlib.suppress(Exception):
                if parse(candidate) == expected:
                    return candidate
    raise Refused("could not update the file without changing other values; it was left as is")


def safe_mode(mode: int) -> int:
    """Never loosen a mode; a file that holds a secret is at most 0600."""
    return mode & 0o600 if mode & 0o177 else mode


def write_atomically(path: str, data: bytes, mode: int = 0o600) -> str:
    """Replace ``path`` (after following symlinks) by ``data``: temp file, fsync, rename.

    Returns the real path written. On any failure the original file is untouched.
    """
    real = os.path.realpath(path)
    directory, name = os.path.split(real)
    try:
        st: os.stat_result | None = os.stat(real)
    except FileNotFoundError:
        st = None
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            oscalls.restrict(f.fileno(), mode, st)
            os.fsync(f.fileno())
        oscalls.replace(tmp, real)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    # The rename is done and visible: a directory that cannot be synced must not make the caller
    # believe the file still holds the old text (it would undo a change that was made).
    with contextlib.suppress(OSError):
        oscalls.fsync_directory(directory)
    return real


def update_file(
    path: str, edits: Edits, writer: ConfigWriter | None, warn: Callable[[str], None]
) -> str:
    """Apply ``edits`` to the file at ``path`` atomically; return the real path written."""
    real = os.path.realpath(path)
    with open(real, "rb") as f:
        original = f.read()
    try:
        text = updated_text(original.decode("utf-8"), edits, writer, os.path.dirname(real))
    except UnicodeDecodeError:
        raise Refused(f"{real}: not UTF-8 text; it was left as is") from None
    except Refused as error:
        raise Refused(f"{real}: {error}") from None
    new_mode = mode = os.stat(real).st_mode & 0o777
    # Windows mode bits say only "read-only" (0o444 or 0o666): nothing to tighten or report.
    if not oscalls.WINDOWS:
        new_mode = safe_mode(mode)
        if new_mode != mode:
            warn(f"{real} was readable by others (mode {mode:o}); it is now {new_mode:o}")
    return write_atomically(real, text.encode("utf-8"), new_mode)
