"""Fixtures for the tasks tests: the session's real Redis, emptied for each test."""
from __future__ import annotations

import pytest
import redis


@pytest.fixture
def tasks_redis_socket(redis_server: str) -> str:
    plain = redis.Redis(unix_socket_path=redis_server)
    plain.flushall()
    plain.close()
    return redis_server
