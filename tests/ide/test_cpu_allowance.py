"""The daily CPU allowance against a real Redis and real busy processes."""
from __future__ import annotations

import asyncio
import inspect
import os
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis

from consoles.keys import cpu_key
from ide.cpu import DAY_SECONDS, CpuAllowance, period_start
from sandbox import DEFAULT_LIMITS, AccountLimits, Sandbox, SandboxedProcess
from tests.sandbox.leftovers import TEST_UID_PREFIX, HostSnapshot, cgroup_dir, pids_in

ALLOWANCE = 0.3
LIMITS = {**DEFAULT_LIMITS,
          "free": AccountLimits(cpu_shares=300, memory_bytes=None, max_pids=None, daily_cpu_seconds=ALLOWANCE)}
CREATED = 1_700_000_123.5
BUSY = ["bash", "-c", "while :; do :; done"]
TIMEOUT = 30.0


@pytest.fixture(scope="module")
def redis_socket(redis_server: str) -> str:
    """The session's embedded Redis, emptied for this module."""
    with redis.Redis(unix_socket_path=redis_server) as client:
        client.flushall()
    return redis_server


@pytest.fixture
def fresh_redis(redis_socket: str) -> str:
    client = redis.Redis(unix_socket_path=redis_socket)
    client.flushall()
    client.close()
    return redis_socket


class Clock:
    """Epoch seconds that a test can move a day ahead."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def _in_loop(redis_socket: str, scenario: Callable[[aioredis.Redis], Awaitable[None]]) -> None:
    async def main() -> None:
        client = aioredis.Redis(unix_socket_path=redis_socket, decode_responses=True)
        try:
            await scenario(client)
        finally:
            await client.aclose()
    asyncio.run(main())


async def _add_user(client: aioredis.Redis, name: str, account_type: str = "free",
                    created: float = CREATED) -> None:
    await client.hset(f"ide:user:{name}", mapping={"type": account_type, "created": repr(created)})
    await client.sadd("ide:users", name)


async def _until(condition: Callable[[], bool | Awaitable[bool]], what: str) -> None:
    """Poll ``condition`` (plain or async) without blocking the loop."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        result = condition()
        if await result if inspect.isawaitable(result) else result:
            return
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def _stop(process: SandboxedProcess) -> None:
    process.kill()
    await _until(lambda: process.poll() is not None, "the process to be reaped")
    process.release()


def test_period_starts_at_the_accounts_time_of_day() -> None:
    assert period_start(CREATED, CREATED + 5) == int(CREATED)
    assert period_start(CREATED, CREATED + 3 * DAY_SECONDS + 7) == int(CREATED) + 3 * DAY_SECONDS
    assert period_start(CREATED, CREATED + DAY_SECONDS - 1) == int(CREATED)
    assert period_start(CREATED, CREATED - 10) == int(CREATED) - DAY_SECONDS


def test_crossing_the_allowance_tarpits_on_that_tick_and_the_reset_releases(
        fresh_redis: str, tmp_path: Path) -> None:
    changes: list[tuple[str, bool]] = []
    clock = Clock()

    async def scenario(client: aioredis.Redis) -> None:
        sandbox = Sandbox(tmp_path / "home", isolation="off", limits=LIMITS)
        allowance = CpuAllowance(client, sandbox, LIMITS, interval=0.1,
                                 on_change=lambda name, tarpit: changes.append((name, tarpit)), clock=clock)
        await _add_user(client, "ann")
        busy = await sandbox.spawn(sandbox.identity("ann", "free"), BUSY, "/home/ann")
        try:
            deadline = time.monotonic() + TIMEOUT
            while True:
                await allowance.tick()
                used = float(await client.hget(cpu_key("ann"), "usage") or 0)
                if used > ALLOWANCE:
                    break
                assert not sandbox.is_tarpitted("ann") and changes == []
                assert time.monotonic() < deadline, "the busy loop never crossed the allowance"
                await asyncio.sleep(0.1)
            # The tick that recorded the crossing is the one that tarpitted.
            assert sandbox.is_tarpitted("ann") and changes == [("ann", True)]
            assert await client.hget(cpu_key("ann"), "tarpit") == "1"
            usage = await allowance.usage("ann")
            assert usage.tarpitted and usage.limit_seconds == ALLOWANCE and usage.used_seconds > ALLOWANCE
        finally:
            await _stop(busy)

        before = await allowance.usage("ann")
        clock.offset += DAY_SECONDS
        await allowance.tick()
        assert not sandbox.is_tarpitted("ann") and changes == [("ann", True), ("ann", False)]
        state = await client.hgetall(cpu_key("ann"))
        assert state["tarpit"] == "0" and float(state["usage"]) < ALLOWANCE
        assert int(state["period_start"]) == period_start(CREATED, clock())
        after = await allowance.usage("ann")
        assert not after.tarpitted and after.used_seconds < ALLOWANCE
        assert (after.next_reset - before.next_reset).total_seconds() == DAY_SECONDS
        await sandbox.close()

    _in_loop(fresh_redis, scenario)


def test_usage_of_users_with_and_without_accounting(fresh_redis: str, tmp_path: Path) -> None:
    async def scenario(client: aioredis.Redis) -> None:
        sandbox = Sandbox(tmp_path / "home", isolation="off", limits=LIMITS)
        allowance = CpuAllowance(client, sandbox, LIMITS, clock=lambda: CREATED + 100)
        await _add_user(client, "idle", account_type="hacker")
        usage = await allowance.usage("idle")
        assert usage.used_seconds == 0.0 and not usage.tarpitted
        assert usage.limit_seconds == DEFAULT_LIMITS["hacker"].daily_cpu_seconds
        assert usage.next_reset == datetime.fromtimestamp(int(CREATED) + DAY_SECONDS, tz=UTC)
        with pytest.raises(LookupError, match="no user named 'ghost'"):
            await allowance.usage("ghost")
        await sandbox.close()

    _in_loop(fresh_redis, scenario)


def test_tarpit_survives_a_restart_but_not_a_new_day(fresh_redis: str, tmp_path: Path) -> None:
    clock = Clock()

    async def scenario(client: aioredis.Redis) -> None:
        now_period = period_start(CREATED, clock())
        for name, started in (("today", now_period), ("yesterday", now_period - DAY_SECONDS)):
            await _add_user(client, name)
            await client.hset(cpu_key(name), mapping={"usage": "500", "period_start": str(started),
                                                       "tarpit": "1"})
        changes: list[tuple[str, bool]] = []
        sandbox = Sandbox(tmp_path / "home", isolation="off", limits=LIMITS)
        allowance = CpuAllowance(client, sandbox, LIMITS, on_change=lambda *c: changes.append(c), clock=clock)
        await allowance.restore_tarpits()
        assert sandbox.tarpitted_users() == {"today"} and changes == [("today", True)]
        assert (await allowance.usage("yesterday")).used_seconds == 0.0
        await sandbox.close()

    _in_loop(fresh_redis, scenario)


def test_another_nodes_decision_reaches_this_nodes_processes(fresh_redis: str, tmp_path: Path) -> None:
    async def scenario(client: aioredis.Redis) -> None:
        nodes = [Sandbox(tmp_path / "home", isolation="off", limits=LIMITS) for _ in range(2)]
        allowances = [CpuAllowance(client, node, LIMITS) for node in nodes]
        await _add_user(client, "bea")
        first = await nodes[0].spawn(nodes[0].identity("bea", "free"), BUSY, "/home/bea")

        async def tarpitted_on_first() -> bool:
            await allowances[0].tick()
            return nodes[0].is_tarpitted("bea")
        try:
            await _until(tarpitted_on_first, "the first node to tarpit bea")
        finally:
            await _stop(first)

        second = await nodes[1].spawn(nodes[1].identity("bea", "free"), BUSY, "/home/bea")

        async def tarpitted_on_second() -> bool:
            await allowances[1].tick()
            return nodes[1].is_tarpitted("bea")
        try:
            await _until(tarpitted_on_second, "the second node to follow")
        finally:
            await _stop(second)
        for node in nodes:
            await node.close()

    _in_loop(fresh_redis, scenario)


def test_stop_records_the_cpu_used_since_the_last_tick(fresh_redis: str, tmp_path: Path) -> None:
    async def scenario(client: aioredis.Redis) -> None:
        sandbox = Sandbox(tmp_path / "home", isolation="off", limits=DEFAULT_LIMITS)
        allowance = CpuAllowance(client, sandbox, DEFAULT_LIMITS, interval=3600)
        await _add_user(client, "cid")
        allowance.start()  # ticks once now, then not for an hour
        busy = await sandbox.spawn(sandbox.identity("cid", "free"), BUSY, "/home/cid")
        try:
            await _until(lambda: _used_more_than(sandbox, "cid", 0.2), "the loop to use some CPU")
        finally:
            await _stop(busy)
        await allowance.stop()
        assert float(await client.hget(cpu_key("cid"), "usage") or 0) > 0.2
        await sandbox.close()

    _in_loop(fresh_redis, scenario)


async def _used_more_than(sandbox: Sandbox, name: str, seconds: float) -> bool:
    return await sandbox.cpu_usage_seconds(name) > seconds


@pytest.mark.skipif(os.geteuid() != 0, reason="cgroups and uid switching need root")
def test_loop_moves_an_isolated_user_into_the_tarpit_cgroup(fresh_redis: str, tmp_path: Path) -> None:
    snapshot = HostSnapshot.take()
    base = f"ide-test-cpu-{os.getpid()}"
    changes: list[tuple[str, bool]] = []

    async def scenario(client: aioredis.Redis) -> None:
        sandbox = Sandbox(tmp_path / "home", isolation="full", cgroup_base=base,
                          uid_prefix=TEST_UID_PREFIX, limits=LIMITS)
        allowance = CpuAllowance(client, sandbox, LIMITS, interval=0.2,
                                 on_change=lambda *change: changes.append(change))
        await _add_user(client, "sbxt_cpu", created=time.time() - 1000)
        identity = sandbox.identity("sbxt_cpu", "free")
        busy = await sandbox.spawn(identity, BUSY, identity.visible_home)
        allowance.start()
        try:
            await _until(lambda: sandbox.is_tarpitted("sbxt_cpu") and bool(changes), "the tarpit and its notice")
            assert changes == [("sbxt_cpu", True)]
            assert str(busy.pid) in pids_in(cgroup_dir("cpu", base, "_tarpit", "sbxt_cpu"))
            assert pids_in(cgroup_dir("cpu", base, "sbxt_cpu")) == []
        finally:
            await allowance.stop()
            await _stop(busy)
            await sandbox.remove_user("sbxt_cpu", delete_home=True)
            await sandbox.close()
        assert await client.hget(cpu_key("sbxt_cpu"), "tarpit") == "1"

    _in_loop(fresh_redis, scenario)
    assert snapshot.leftovers(base) == []
