"""A bound on failed logins, per account and per client address.

Counters live in Redis with a fixed window, so a flood of wrong passwords
locks an account for at most one window, never for good, and the limit
holds across nodes.
"""
from __future__ import annotations

import redis.asyncio as aioredis

WINDOW_SECONDS = 15 * 60
MAX_PER_USER = 10
MAX_PER_ADDRESS = 50


class TooManyAttempts(Exception):
    def __init__(self, retry_after: int) -> None:
        minutes = max(1, (retry_after + 59) // 60)
        super().__init__(f"Too many failed logins. Try again in {minutes} minute"
                         f"{'s' if minutes != 1 else ''}.")
        self.retry_after = retry_after


class LoginThrottle:
    def __init__(self, redis: aioredis.Redis, max_per_user: int = MAX_PER_USER,
                 max_per_address: int = MAX_PER_ADDRESS) -> None:
        self.redis = redis
        self.limits = {"user": max_per_user, "ip": max_per_address}

    @staticmethod
    def _keys(username: str, address: str) -> dict[str, str]:
        return {"user": f"ide:loginfail:user:{username.lower()[:64]}",
                "ip": f"ide:loginfail:ip:{address}"}

    async def check(self, username: str, address: str) -> None:
        """Raise TooManyAttempts if either counter is at its limit."""
        for kind, key in self._keys(username, address).items():
            count = int(await self.redis.get(key) or 0)
            if count >= self.limits[kind]:
                raise TooManyAttempts(max(1, await self.redis.ttl(key)))

    async def failed(self, username: str, address: str) -> None:
        for key in self._keys(username, address).values():
            async with self.redis.pipeline(transaction=True) as pipe:
                # The window starts with the first failure; INCR keeps the TTL.
                pipe.set(key, 0, ex=WINDOW_SECONDS, nx=True)
                pipe.incr(key)
                await pipe.execute()

    async def succeeded(self, username: str) -> None:
        await self.redis.delete(self._keys(username, "-")["user"])
