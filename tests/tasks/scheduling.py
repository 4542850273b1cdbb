"""Helpers for tests of scheduled runs against a real server started with ``--adjustable-clock``."""
from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from tests.client import Client
from tests.server import ServerProcess

T = TypeVar("T")


def next_free_minute(lead: float = 120.0) -> float:
    """A whole minute at least ``lead`` seconds from now (epoch seconds)."""
    return math.ceil((time.time() + lead) / 60) * 60


def set_clock(server: ServerProcess, scheduler_now: float) -> None:
    """Make the server's scheduler read ``scheduler_now`` now (and run on from there), and wake it."""
    server.redis_call("SET", "ide:clock:offset", repr(scheduler_now - time.time()))
    server.redis_call("PUBLISH", "ide:tasks", "clock")


def log_of(server: ServerProcess, user: str, name: str) -> Path:
    return server.data_dir / "log" / user / name


async def eventually(check: Callable[[], Awaitable[T | None]], timeout: float = 60.0) -> T:
    """The first truthy answer of ``check``; fails after ``timeout`` seconds (a bound, not a measure)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = await check()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"still not so after {timeout:g} s: {check.__doc__ or check}")
        await asyncio.sleep(0.1)


async def user_client(server: ServerProcess, account_type: str = "hacker") -> tuple[str, Client]:
    name = server.add_user("run", account_type=account_type)
    token = server.cli("user", "token", name).stdout.strip()
    return name, Client(server.url, token=token)
