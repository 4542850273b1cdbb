"""How much of their disk quota a home uses, measured off the event loop."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ide.files import home_io
from ide.files.errors import QuotaExceeded
from ide.files.paths import HomePath

MiB = 1024 * 1024
GiB = 1024 * MiB
QUOTA_BYTES: Mapping[str, int] = {"anon": 100 * MiB, "free": 512 * MiB, "hacker": 5 * GiB,
                                  "web_developer": 10 * GiB}
USAGE_TTL = 10.0
"""Seconds a measured usage is trusted; writes through the server adjust it meanwhile."""


@dataclass(frozen=True)
class Usage:
    used_bytes: int
    quota_bytes: int


def _size(count: int) -> str:
    for unit, size in (("GB", GiB), ("MB", MiB), ("KB", 1024)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count} bytes"


class HomeUsage:
    """Per-home byte counts, walked in a thread and cached for ``ttl`` seconds.

    Changes made by users' own programs show up once the cache expires;
    writes made through the server are added at once (``grow``) so a burst
    of uploads cannot overshoot the quota by more than one file.
    """

    def __init__(self, quotas: Mapping[str, int] = QUOTA_BYTES, ttl: float = USAGE_TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.quotas = dict(quotas)
        self.ttl = ttl
        self.clock = clock
        self._measured: dict[str, tuple[int, float]] = {}

    def quota_for(self, account_type: str) -> int:
        return self.quotas.get(account_type, min(self.quotas.values()))

    async def used(self, home: HomePath) -> int:
        cached = self._measured.get(home.owner)
        if cached is not None and self.clock() - cached[1] < self.ttl:
            return cached[0]
        try:
            used = await asyncio.to_thread(home_io.usage_bytes, home)
        except OSError as error:
            raise home_io.translate(error, home) from None
        self._measured[home.owner] = (used, self.clock())
        return used

    async def usage(self, home: HomePath, account_type: str) -> Usage:
        return Usage(await self.used(home), self.quota_for(account_type))

    async def allowance(self, home: HomePath, account_type: str) -> int:
        """Bytes that may still be added to ``home`` (0 or more)."""
        usage = await self.usage(home, account_type)
        return max(0, usage.quota_bytes - usage.used_bytes)

    async def check(self, home: HomePath, account_type: str, adding: int) -> None:
        """QuotaExceeded unless ``adding`` more bytes fit in the home's quota."""
        if adding <= 0:
            return
        usage = await self.usage(home, account_type)
        if usage.used_bytes + adding > usage.quota_bytes:
            raise quota_exceeded(home, account_type, usage)

    def grow(self, owner: str, delta: int) -> None:
        cached = self._measured.get(owner)
        if cached is not None:
            self._measured[owner] = (max(0, cached[0] + delta), cached[1])

    def forget(self, owner: str) -> None:
        """Measure again next time (after deletes and moves)."""
        self._measured.pop(owner, None)


def quota_exceeded(home: HomePath, account_type: str, usage: Usage) -> QuotaExceeded:
    return QuotaExceeded(
        f"{home.visible_home} uses {_size(usage.used_bytes)} of its {_size(usage.quota_bytes)} quota "
        f"({account_type} account); this would not fit. Delete some files first, "
        "or upgrade the account.")
