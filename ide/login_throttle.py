"""Slowing password guessing down without handing anyone a way to lock a user out.

A fixed lock per account ("ten failures and the account is closed for a
while") is a weapon: anyone who knows a user name can keep its owner out.
Here every bound delays *addresses*, never the right password typed from an
address that has not failed for that account:

* per client address: after ``FREE_PER_ADDRESS`` failures, each further
  attempt from it must wait ``2**(failures - free)`` seconds after its last
  failure (at most ``LONGEST_DELAY``);
* per (account, address) pair: the same with ``FREE_PER_PAIR``, so one
  address cannot spend its whole allowance on one account;
* per account: once an account has had ``FREE_PER_ACCOUNT`` failures from
  anywhere (guessing spread over many addresses), every address that has
  itself failed for it waits ``2**(account failures - free)`` seconds after
  its own last failure for it (at most ``LONGEST_ACCOUNT_DELAY``), while an
  address without failures for it is not held back at all.

A refusal is not a failure: waiting out a delay is all it takes.  Counters
live in Redis (so the bounds hold across nodes) and are forgotten a day
after their last failure; a successful login clears only its own pair.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis.asyncio as aioredis

from consoles.keys import login_failure_keys

FREE_PER_ADDRESS = 10
FREE_PER_PAIR = 5
FREE_PER_ACCOUNT = 20
LONGEST_DELAY = 3600
LONGEST_ACCOUNT_DELAY = 300
MEMORY_SECONDS = 24 * 3600

# Each key: a hash {count, last}; one failure counts in all three at once.
_RECORD_FAILURE = """
for _, key in ipairs(KEYS) do
  redis.call('HINCRBY', key, 'count', 1)
  redis.call('HSET', key, 'last', ARGV[1])
  redis.call('EXPIRE', key, ARGV[2])
end
"""


class TooManyAttempts(Exception):
    def __init__(self, retry_after: int) -> None:
        if retry_after < 60:
            wait = f"{retry_after} second{'s' if retry_after != 1 else ''}"
        else:
            minutes = (retry_after + 59) // 60
            wait = f"{minutes} minute{'s' if minutes != 1 else ''}"
        super().__init__(f"Too many failed logins from your address. Try again in {wait}.")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Failures:
    count: int = 0
    last: float = 0.0

    def wait(self, free: int, longest: float, now: float, count: int | None = None) -> float:
        """Seconds still to wait after the last failure, with ``count`` failures
        (this record's own by default) against ``free`` ones."""
        over = (self.count if count is None else count) - free
        if over < 0 or self.count == 0:
            return 0.0
        return max(0.0, self.last + min(longest, 2.0 ** over) - now)


class LoginThrottle:
    def __init__(self, redis: aioredis.Redis, clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.clock = clock
        self._record = redis.register_script(_RECORD_FAILURE)

    @staticmethod
    def _keys(username: str, address: str) -> tuple[str, str, str]:
        return login_failure_keys(username.lower()[:64], address)

    async def _read(self, username: str, address: str) -> list[Failures]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in self._keys(username, address):
                pipe.hmget(key, "count", "last")
            rows = await pipe.execute()
        return [Failures(int(count or 0), float(last or 0)) for count, last in rows]

    async def check(self, username: str, address: str) -> None:
        """Raise TooManyAttempts if this address must still wait before trying."""
        ip, pair, account = await self._read(username, address)
        now = self.clock()
        waits = [ip.wait(FREE_PER_ADDRESS, LONGEST_DELAY, now),
                 pair.wait(FREE_PER_PAIR, LONGEST_DELAY, now),
                 # From the pair's own last failure: zero for an address that never failed here.
                 pair.wait(FREE_PER_ACCOUNT, LONGEST_ACCOUNT_DELAY, now, count=account.count)]
        longest = max(waits)
        if longest > 0:
            raise TooManyAttempts(max(1, math.ceil(longest)))

    async def failed(self, username: str, address: str) -> None:
        await self._record(keys=list(self._keys(username, address)),
                           args=[repr(self.clock()), MEMORY_SECONDS])

    async def succeeded(self, username: str, address: str) -> None:
        """The right password: this address's failures for this account are forgiven
        (not the address's others, nor the account's, which other addresses made)."""
        await self.redis.delete(self._keys(username, address)[1])
