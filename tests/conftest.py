"""Fixtures shared by every suite: moto's server (signing enforced) and throwaway AWS homes."""

from __future__ import annotations

# Import botocore before anything imports awscli: awscli installs an import alias that would
# otherwise load its bundled botocore into this process, under moto.
import botocore  # noqa: F401
import pytest

from tests.support.cli import CLI, AwsHome
from tests.support.moto import MotoServer


def _cli_version() -> str:
    import subprocess

    proc = subprocess.run(
        [CLI.executable, "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    return (proc.stdout or proc.stderr).strip()


def pytest_report_header(config):  # type: ignore[no-untyped-def]
    return f"AWS CLI under test: {CLI.name} ({CLI.executable}: {_cli_version()})"


@pytest.fixture(scope="session", autouse=True)
def cli_is_the_one_asked_for():  # type: ignore[no-untyped-def]
    """A v2 half that silently ran v1 (or the reverse) would prove nothing."""
    version = _cli_version()
    assert version.startswith(f"aws-cli/{CLI.major}."), (CLI, version)


@pytest.fixture(scope="session")
def moto_server():  # type: ignore[no-untyped-def]
    server = MotoServer()
    server.assert_signing_enforced()
    yield server
    server.stop()


@pytest.fixture
def aws_home(tmp_path, moto_server):  # type: ignore[no-untyped-def]
    return AwsHome(tmp_path / "home", moto_server.url)


@pytest.fixture
def proxy(moto_server):  # type: ignore[no-untyped-def]
    from tests.support.faultproxy import FaultProxy

    proxy = FaultProxy(upstream=moto_server.url)
    yield proxy
    proxy.stop()


@pytest.fixture
def proxied_home(tmp_path, proxy):  # type: ignore[no-untyped-def]
    """An AWS home whose endpoint is the fault proxy in front of moto."""
    return AwsHome(tmp_path / "home", proxy.url)
