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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last: Playwright's sync API keeps an event loop running in
    the main thread for the rest of the session, which the asyncio tests
    (pytest-tornado, asyncio.run) cannot share."""
    items.sort(key=lambda item: "/tests/browser/" in str(item.path))
