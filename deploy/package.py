"""Build the scheduled function's deployment zip, reproducibly: same sources, same bytes.

    python3 deploy/package.py [--output dist/enforce-lambda.zip]

The zip holds the ``awscli_rotate_key`` package minus ``commands/`` (the CLI layer, the only
part that imports awscli; the Lambda runtime has none) and minus anything that is not Python
source. Reproducible: entries sorted, every timestamp 1980-01-01 00:00, every file 0644, stored
uncompressed (no dependence on the zlib version), no ``__pycache__``. In a git checkout only
the files git tracks go in (``git ls-files``), so a stray untracked module never does: the same
commit gives the same bytes. Standard library only.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "awscli_rotate_key"
LEFT_OUT = ("commands",)  # sub-packages that need awscli
DEFAULT_OUTPUT = ROOT / "dist" / "enforce-lambda.zip"
EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold
MODE = 0o100644  # a regular file, rw-r--r--


def sources(root: Path = ROOT) -> Iterator[tuple[str, Path]]:
    """(name in the zip, file) for every module the function may import, sorted by name."""
    package = root / PACKAGE
    found = _tracked(root)
    if found is None:  # not a git checkout (e.g. an unpacked sdist): every file there is in
        found = []
        for directory, subdirectories, files in os.walk(package):
            here = Path(directory)
            subdirectories[:] = [d for d in subdirectories if d != "__pycache__"]
            found += [here / name for name in files]
    chosen = [
        path
        for path in found
        if path.suffix == ".py" and path.is_file() and not _left_out(package, path.parent)
    ]
    for path in sorted(chosen, key=lambda p: p.relative_to(root).as_posix()):
        yield path.relative_to(root).as_posix(), path


def _tracked(root: Path, *options: str) -> list[Path] | None:
    """The package's files git tracks (with ``--others``: those it does not), or None when
    ``root`` is not a git checkout."""
    if not (root / ".git").exists():
        return None
    try:
        listed = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-z", *options, "--", PACKAGE],
            check=True,
            capture_output=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return [root / name for name in listed.decode("utf-8").split("\0") if name]


def left_untracked(root: Path = ROOT) -> list[str]:
    """Python files in the package that git does not track (not in the zip: commit them)."""
    others = _tracked(root, "--others", "--exclude-standard") or []
    return sorted(p.relative_to(root).as_posix() for p in others if p.suffix == ".py")


def changed_since_commit(root: Path = ROOT) -> list[str]:
    """Tracked files of the package whose working copy differs from HEAD: the zip holds the
    working copies, so it is "the same bytes for the same commit" only on a clean tree."""
    if not (root / ".git").exists():
        return []
    try:
        listed = subprocess.run(
            ["git", "-C", str(root), "diff", "--name-only", "-z", "HEAD", "--", PACKAGE],
            check=True,
            capture_output=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    return sorted(name for name in listed.decode("utf-8").split("\0") if name.endswith(".py"))


def _left_out(package: Path, directory: Path) -> bool:
    """A directory of ``commands/`` (awscli) or a ``__pycache__``."""
    parts = directory.relative_to(package).parts
    return parts[:1] in [(name,) for name in LEFT_OUT] or "__pycache__" in parts


def build(output: Path, root: Path = ROOT) -> Path:
    """Write the zip to ``output`` (through a temporary file, so a failed build leaves none)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, path in sources(root):
            entry = zipfile.ZipInfo(name, date_time=EPOCH)
            entry.external_attr = MODE << 16
            entry.create_system = 3  # Unix, so the mode above is what unzip applies
            archive.writestr(entry, path.read_bytes())
    os.replace(partial, output)
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    built = build(args.output)
    for name in left_untracked():
        print(f"warning: {name} is not tracked by git, so it is not in the zip", file=sys.stderr)
    for name in changed_since_commit():
        print(
            f"warning: {name} differs from the commit: this zip is not the commit's",
            file=sys.stderr,
        )
    count = len(zipfile.ZipFile(built).namelist())
    print(f"{built}: {count} modules, {built.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
