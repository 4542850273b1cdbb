"""Fixtures for the consoles tests: a real embedded Redis, real PTYs, a real server."""
from __future__ import annotations

from pathlib import Path

import pytest
import redis


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
