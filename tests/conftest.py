"""Fixtures shared by every suite: moto's server (signing enforced) and throwaway AWS homes."""

from __future__ import annotations

import pytest

from tests.support.cli import AwsHome
from tests.support.moto import MotoServer


@pytest.fixture(scope="session")
def moto_server():  # type: ignore[no-untyped-def]
    server = MotoServer()
    server.assert_signing_enforced()
    yield server
    server.stop()


@pytest.fixture
def aws_home(tmp_path, moto_server):  # type: ignore[no-untyped-def]
    return AwsHome(tmp_path / "home", moto_server.url)
