"""Fixtures shared by every test package: one real server per test session."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.server import ServerProcess


@pytest.fixture(scope="session")
def ide_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path_factory.mktemp("data"), "--sandbox", "off").start()
    yield server
    server.stop()
