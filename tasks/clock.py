"""The schedulers' one clock, and the seam through which tests move it.

Every due-time decision reads :meth:`Clock.now`.  A server started with
``--adjustable-clock`` adds the offset stored in Redis (``ide:clock:offset``)
to the real time, re-read each time the scheduler wakes; tests use it to
make a task due "now" without waiting for a wall-clock day.  Without the
flag the key is never read.
"""
from __future__ import annotations

import time

import redis.asyncio as aioredis

from consoles.keys import CLOCK_OFFSET


class Clock:
    """The real time."""

    def now(self) -> float:
        return time.time()

    async def refresh(self) -> None:
        """Pick up a change of the clock (nothing to do for the real one)."""


class AdjustableClock(Clock):
    """The real time plus an offset kept in Redis."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis
        self._offset = 0.0

    def now(self) -> float:
        return time.time() + self._offset

    async def refresh(self) -> None:
        raw = await self._redis.get(CLOCK_OFFSET)
        try:
            self._offset = float(raw) if raw is not None else 0.0
        except ValueError:
            self._offset = 0.0
