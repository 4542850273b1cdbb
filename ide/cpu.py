"""The daily CPU allowance: count each user's CPU time, tarpit them past it.

Every ``interval`` seconds one worker-thread job reads the CPU counters of
all users active on this node; the increases are added in Redis to
``ide:cpu:<name>`` (``usage`` seconds in the current period,
``period_start`` epoch, ``tarpit`` 0/1).  A user's day starts at the time of
day their account was created, so resets are spread over the day rather
than all landing at midnight.  Several nodes may add to the same hash; the
one Lua script below makes the reset and the tarpit decision atomic, and
each node applies the shared decision to its own processes on its next tick.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

import redis.asyncio as aioredis

from consoles.keys import USERS, cpu_key, user_key
from sandbox import AccountLimits, Sandbox, SandboxError

log = logging.getLogger(__name__)

DAY_SECONDS = 86400
_SCAN_BATCH = 500

# KEYS[1] cpu hash; ARGV: seconds to add, current period start, limit (-1: none).
# Returns {usage, tarpit}.  A new period resets usage and lifts the tarpit.
_ACCOUNT_LUA = """
local state = redis.call('HMGET', KEYS[1], 'period_start', 'tarpit')
local usage
local tarpit = 0
if state[1] == ARGV[2] then
  usage = tonumber(redis.call('HINCRBYFLOAT', KEYS[1], 'usage', ARGV[1]))
  if state[2] == '1' then tarpit = 1 end
else
  usage = tonumber(ARGV[1])
  redis.call('HSET', KEYS[1], 'period_start', ARGV[2], 'usage', ARGV[1])
end
local limit = tonumber(ARGV[3])
if limit >= 0 and usage > limit then tarpit = 1 end
redis.call('HSET', KEYS[1], 'tarpit', tarpit)
return {tostring(usage), tarpit}
"""


def period_start(created: float, now: float) -> int:
    """Start (epoch seconds) of the user's current day, anchored at ``created``."""
    anchor = int(created)
    return anchor + (int(now) - anchor) // DAY_SECONDS * DAY_SECONDS


@dataclass(frozen=True)
class CpuUsage:
    """One user's allowance as the API's ``cpu/`` endpoint and the pages show it."""

    limit_seconds: float | None
    used_seconds: float
    next_reset: datetime
    tarpitted: bool


class CpuAllowance:
    """Runs the accounting loop and answers questions about usage.

    ``on_change(name, tarpitted)`` is called on the event loop when this node
    moves a user into (True) or out of (False) the tarpit, so that their
    consoles can say so.  ``clock`` gives epoch seconds.
    """

    def __init__(self, redis: aioredis.Redis, sandbox: Sandbox, limits: Mapping[str, AccountLimits],
                 interval: float = 5.0, on_change: Callable[[str, bool], None] | None = None,
                 *, clock: Callable[[], float] = time.time) -> None:
        if interval <= 0:
            raise ValueError(f"the accounting interval must be positive, not {interval}")
        self.redis = redis
        self.sandbox = sandbox
        self.limits = limits
        self.interval = interval
        self.on_change = on_change
        self.clock = clock
        self._account = redis.register_script(_ACCOUNT_LUA)
        self._seen: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    # -- the loop ------------------------------------------------------------

    def start(self) -> None:
        """Start the loop on the running event loop (tarpits are restored first)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="cpu-allowance")

    async def stop(self) -> None:
        """Stop the loop, after recording the CPU used since the last tick.

        The loop is asked to stop rather than cancelled: a cancellation that
        lands inside a Redis call can be swallowed by the client library, and
        the loop would then tick on for ever while shutdown waits for it.
        """
        if self._task is None:
            return
        self._stopping.set()
        await self._task
        self._task = None
        try:
            await self.tick()
        except Exception:
            log.exception("recording CPU usage at shutdown failed")

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await self.restore_tarpits()
        except Exception:
            log.exception("restoring tarpitted users failed; the next ticks will catch up")
        while not self._stopping.is_set():
            started = loop.time()
            try:
                await self.tick()
            except Exception:
                log.exception("CPU accounting tick failed")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopping.wait(),
                                       max(0.0, self.interval - (loop.time() - started)))

    async def tick(self) -> None:
        """Add CPU used since the last tick, tarpit or release users as decided."""
        totals = await self.sandbox.active_cpu_usage()
        deltas = {name: max(0.0, total - self._seen.get(name, 0.0)) for name, total in totals.items()}
        names = {n for n, d in deltas.items() if d > 0} | self.sandbox.tarpitted_users()
        decisions = await self._account_all(sorted(names), deltas) if names else {}
        self._seen.update(totals)  # only once Redis has it: a failed tick is added to the next
        for name, tarpit in decisions.items():
            try:
                await self._apply(name, tarpit)
            except SandboxError:
                log.exception("could not %s the tarpit for %s; retrying next tick",
                              "enter" if tarpit else "leave", name)

    async def _account_all(self, names: list[str], deltas: Mapping[str, float]) -> dict[str, bool]:
        accounts = await self._accounts(names)
        now = self.clock()
        ordered = [n for n in names if n in accounts]
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in ordered:
                account_type, created = accounts[name]
                limit = self._limit(account_type)
                await self._account(keys=[cpu_key(name)], client=pipe, args=[
                    repr(deltas.get(name, 0.0)), str(period_start(created, now)),
                    "-1" if limit is None else repr(float(limit))])
            results = await pipe.execute()
        decisions = {name: bool(int(result[1])) for name, result in zip(ordered, results, strict=True)}
        for name in names:
            if name not in accounts:  # account deleted: nothing to hold against it
                decisions[name] = False
        return decisions

    async def _accounts(self, names: Iterable[str]) -> dict[str, tuple[str, float]]:
        """(type, created) of each existing user among ``names``."""
        names = list(names)
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hmget(user_key(name), "type", "created")
            rows = await pipe.execute()
        return {name: (row[0], float(row[1] or 0)) for name, row in zip(names, rows, strict=True) if row[0]}

    def _limit(self, account_type: str) -> float | None:
        limits = self.limits.get(account_type)
        return limits.daily_cpu_seconds if limits is not None else None

    async def _apply(self, name: str, tarpit: bool) -> None:
        if tarpit == self.sandbox.is_tarpitted(name):
            return
        if tarpit:
            await self.sandbox.enter_tarpit(name)
        else:
            await self.sandbox.leave_tarpit(name)
        if self.on_change is not None:
            self.on_change(name, tarpit)

    async def restore_tarpits(self) -> None:
        """Tarpit again, after a restart, the users Redis says are in it today."""
        now = self.clock()
        cursor = 0
        while True:
            cursor, batch = await self.redis.sscan(USERS, cursor, count=_SCAN_BATCH)
            if batch:
                accounts = await self._accounts(cast(list[str], batch))
                async with self.redis.pipeline(transaction=False) as pipe:
                    for name in accounts:
                        pipe.hmget(cpu_key(name), "tarpit", "period_start")
                    states = await pipe.execute()
                for (name, (_, created)), (tarpit, started) in zip(accounts.items(), states, strict=True):
                    if tarpit == "1" and started == str(period_start(created, now)):
                        await self._apply(name, True)
            if cursor == 0:
                return

    # -- questions -------------------------------------------------------------

    async def usage(self, username: str) -> CpuUsage:
        """Today's allowance, use and next reset of ``username``.

        Raises LookupError for an unknown user.
        """
        account_type, created = cast(list[str | None],
                                     await self.redis.hmget(user_key(username), "type", "created"))
        if account_type is None:
            raise LookupError(f"no user named {username!r}")
        start = period_start(float(created or 0), self.clock())
        used, started, tarpit = await self.redis.hmget(cpu_key(username), "usage", "period_start", "tarpit")
        current = started == str(start)
        return CpuUsage(limit_seconds=self._limit(account_type),
                        used_seconds=float(used) if current and used else 0.0,
                        next_reset=datetime.fromtimestamp(start + DAY_SECONDS, tz=UTC),
                        tarpitted=current and tarpit == "1")
