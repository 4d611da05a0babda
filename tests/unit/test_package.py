"""`make package`: the scheduled function's zip is reproducible and needs no awscli."""

from __future__ import annotations

import ast
import importlib.util
import zipfile
from pathlib import Path

import pytest

from tests.unit.test_lambda_imports import ROOT, import_blocked

spec = importlib.util.spec_from_file_location("deploy_package", ROOT / "deploy" / "package.py")
assert spec is not None and spec.loader is not None
package = importlib.util.module_from_spec(spec)
spec.loader.exec_module(package)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return package.build(tmp_path_factory.mktemp("zip") / "enforce-lambda.zip")


def test_two_builds_give_the_same_bytes(built: Path, tmp_path: Path) -> None:
    again = package.build(tmp_path / "again.zip")
    assert again.read_bytes() == built.read_bytes()


def test_a_touched_file_changes_nothing(built: Path, tmp_path: Path) -> None:
    """mtimes and the order the file system lists files in never reach the zip."""
    copy = tmp_path / "tree"
    for name, path in package.sources():
        target = copy / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
        target.chmod(0o600)
    (copy / package.PACKAGE / "__pycache__").mkdir()
    (copy / package.PACKAGE / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"junk")
    (copy / package.PACKAGE / "commands").mkdir()
    (copy / package.PACKAGE / "commands" / "cli.py").write_text("import awscli\n")
    rebuilt = package.build(tmp_path / "rebuilt.zip", root=copy)
    assert rebuilt.read_bytes() == built.read_bytes()


def test_entries_sorted_fixed_and_without_the_cli_layer(built: Path) -> None:
    with zipfile.ZipFile(built) as archive:
        entries = archive.infolist()
    names = [e.filename for e in entries]
    assert names == sorted(names)
    assert "awscli_rotate_key/admin/lambda_handler.py" in names
    assert "awscli_rotate_key/__init__.py" in names
    assert not [
        n for n in names if "/commands/" in n or "__pycache__" in n or not n.endswith(".py")
    ]
    assert {e.date_time for e in entries} == {(1980, 1, 1, 0, 0, 0)}
    assert {e.external_attr >> 16 for e in entries} == {0o100644}
    assert {e.compress_type for e in entries} == {zipfile.ZIP_STORED}


def _imported_modules(source: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_no_module_in_the_zip_imports_awscli(built: Path) -> None:
    with zipfile.ZipFile(built) as archive:
        for name in archive.namelist():
            imported = _imported_modules(archive.read(name).decode("utf-8"))
            assert not {m for m in imported if m.split(".")[0] == "awscli"}, name


def test_every_module_of_the_zip_imports_from_it_without_awscli(
    built: Path, tmp_path: Path
) -> None:
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(built) as archive:
        archive.extractall(unpacked)
        modules = [n[: -len(".py")].replace("/", ".") for n in archive.namelist()]
    modules = [m.removesuffix(".__init__") for m in modules]
    proc = import_blocked(
        f"sys.path.insert(0, {str(unpacked)!r})\n"
        "import importlib\n"
        f"for name in {modules!r}:\n"
        "    module = importlib.import_module(name)\n"
        f"    assert module.__file__.startswith({str(unpacked)!r}), module.__file__\n"
        "print(len(sys.modules))\n",
        path=tmp_path,  # not the checkout: the zip's copy must be the one imported
    )
    assert proc.returncode == 0, proc.stderr


def _git(tree: Path, *args: str) -> None:
    import subprocess

    subprocess.run(["git", "-C", str(tree), *args], check=True, capture_output=True)


def test_in_a_git_checkout_only_tracked_files_go_in(built: Path, tmp_path: Path) -> None:
    """Same commit, same bytes: a stray untracked module in the working tree stays out."""
    tree = tmp_path / "checkout"
    for name, path in package.sources():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_bytes(path.read_bytes())
    _git(tree, "init", "-q")
    _git(tree, "add", "--", package.PACKAGE)
    stray = tree / package.PACKAGE / "admin" / "scratch.py"
    stray.write_text("print('not committed')\n")
    rebuilt = package.build(tmp_path / "tracked.zip", root=tree)
    assert "awscli_rotate_key/admin/scratch.py" not in zipfile.ZipFile(rebuilt).namelist()
    assert rebuilt.read_bytes() == built.read_bytes()
    assert package.left_untracked(tree) == ["awscli_rotate_key/admin/scratch.py"]  # warned of
    _git(tree, "add", "--", str(stray))
    tracked = package.build(tmp_path / "with-it.zip", root=tree)
    assert "awscli_rotate_key/admin/scratch.py" in zipfile.ZipFile(tracked).namelist()


def test_a_module_changed_since_the_commit_is_warned_of(tmp_path: Path) -> None:
    """The zip holds the working copies: a tree that differs from HEAD is named, not hidden."""
    tree = tmp_path / "checkout"
    for name, path in package.sources():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_bytes(path.read_bytes())
    _git(tree, "init", "-q")
    _git(tree, "add", "--", package.PACKAGE)
    _git(tree, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "c")
    assert package.changed_since_commit(tree) == []
    keys = tree / package.PACKAGE / "keys.py"
    keys.write_text(keys.read_text() + "# edited\n")
    assert package.changed_since_commit(tree) == ["awscli_rotate_key/keys.py"]
