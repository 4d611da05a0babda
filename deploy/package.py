"""Build the scheduled function's deployment zip, reproducibly: same sources, same bytes.

    python3 deploy/package.py [--output dist/enforce-lambda.zip]

The zip holds the ``awscli_rotate_key`` package minus ``commands/`` (the CLI layer, the only
part that imports awscli; the Lambda runtime has none) and minus anything that is not Python
source. Reproducible: entries sorted, every timestamp 1980-01-01 00:00, every file 0644, stored
uncompressed (no dependence on the zlib version), no ``__pycache__``. Standard library only.
"""

from __future__ import annotations

import argparse
import os
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
    found = []
    for directory, subdirectories, files in os.walk(package):
        here = Path(directory)
        subdirectories[:] = [
            d for d in subdirectories if d != "__pycache__" and not _left_out(package, here / d)
        ]
        found += [here / name for name in files if name.endswith(".py")]
    for path in sorted(found, key=lambda p: p.relative_to(root).as_posix()):
        yield path.relative_to(root).as_posix(), path


def _left_out(package: Path, directory: Path) -> bool:
    return directory.relative_to(package).parts[:1] in [(name,) for name in LEFT_OUT]


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
    count = len(zipfile.ZipFile(built).namelist())
    print(f"{built}: {count} modules, {built.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
