"""Claiming due runs in Redis: exactly once across nodes, no overlap, missed and expired runs."""
from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from consoles.keys import TASKS_DUE, task_running_key
from tasks.claims import LATE_LIMIT, RunClaims
from tasks.fields import TaskFields
from tasks.store import EXPIRY_SECONDS, TaskStore
from tasks.timing import Timing

# 2026-12-03 05:59:00 UTC: the tasks below fall due a minute later.
BEFORE = 1796277540.0
DUE = BEFORE + 60


def connect(socket_path: str) -> aioredis.Redis:
    return aioredis.Redis(unix_socket_path=socket_path, decode_responses=True)


def hourly_at(minute: int, command: str = "echo hi") -> TaskFields:
    return TaskFields(command=command, description="", enabled=True, timing=Timing("hourly", minute))


@pytest.mark.gen_test
async def test_each_due_run_goes_to_exactly_one_of_several_nodes(tasks_redis_socket):
    tasks_redis = connect(tasks_redis_socket)
    store = TaskStore(tasks_redis)
    ids = [(await store.create("ann", "web_developer", hourly_at(0, f"echo {i}"), now=BEFORE)).id
           for i in range(40)]
    assert {await tasks_redis.zscore(TASKS_DUE, str(i)) for i in ids} == {DUE}
    clients = [connect(tasks_redis_socket) for _ in range(4)]
    nodes = [RunClaims(client, f"node{n}") for n, client in enumerate(clients)]

    async def claim_everything(node: RunClaims) -> list[int]:
        won = []
        for task_id in await node.due_now(DUE + 1):
            claim = await node.claim(task_id, DUE + 1)
            if claim is not None:
                assert (claim.decision, claim.due) == ("run", DUE)
                won.append(task_id)
        return won

    results = await asyncio.gather(*(claim_everything(node) for node in nodes))
    claimed = [task_id for won in results for task_id in won]
    assert sorted(claimed) == sorted(ids)  # every run once, none twice
    assert {await tasks_redis.zscore(TASKS_DUE, str(i)) for i in ids} == {DUE + 3600}
    assert await nodes[0].due_now(DUE + 1) == []
    for client in clients:
        await client.aclose()


@pytest.mark.gen_test
async def test_a_run_still_going_makes_the_next_one_skip_until_it_finishes(tasks_redis_socket):
    tasks_redis = connect(tasks_redis_socket)
    store, node = TaskStore(tasks_redis), RunClaims(tasks_redis, "n1")
    task = await store.create("bob", "hacker", hourly_at(0), now=BEFORE)
    first = await node.claim(task.id, DUE + 1)
    assert first is not None and first.decision == "run"
    assert (await store.find(task.id)).last_run.outcome == "running"
    skipped = await node.claim(task.id, DUE + 3601)
    assert skipped is not None and skipped.decision == "skipped"
    await node.finish(task.id, 3, 12.5)
    last = (await store.find(task.id)).last_run
    assert (last.outcome, last.exit_status, last.duration) == ("finished", 3, 12.5)
    again = await node.claim(task.id, DUE + 7201)
    assert again is not None and again.decision == "run"


@pytest.mark.gen_test
async def test_a_dead_nodes_run_stops_counting_once_its_lease_lapses(tasks_redis_socket):
    tasks_redis = connect(tasks_redis_socket)
    store = TaskStore(tasks_redis)
    dead, alive = RunClaims(tasks_redis, "dead"), RunClaims(tasks_redis, "alive")
    task = await store.create("cy", "hacker", hourly_at(0), now=BEFORE)
    assert (await dead.claim(task.id, DUE + 1)).decision == "run"
    assert await alive.renew(task.id) is False  # not its lease
    # The dead node renews no more: the lease's time to live runs out.
    await tasks_redis.pexpire(task_running_key(task.id), 1)
    await asyncio.sleep(0.05)
    assert (await alive.claim(task.id, DUE + 3601)).decision == "run"


@pytest.mark.gen_test
async def test_a_run_claimed_too_late_is_missed_and_not_made_up(tasks_redis_socket):
    tasks_redis = connect(tasks_redis_socket)
    store, node = TaskStore(tasks_redis), RunClaims(tasks_redis, "n1")
    task = await store.create("dee", "hacker", hourly_at(0), now=BEFORE)
    # Every node was down for three hours and a bit.
    late = DUE + 3 * 3600 + LATE_LIMIT + 1
    missed = await node.claim(task.id, late)
    assert missed is not None and (missed.decision, missed.due) == ("missed", DUE)
    assert await tasks_redis.zscore(TASKS_DUE, str(task.id)) == DUE + 4 * 3600
    assert await node.claim(task.id, late) is None  # nothing else due before the next hour


@pytest.mark.gen_test
async def test_an_expired_free_task_is_disabled_not_run_and_extending_brings_it_back(tasks_redis_socket):
    tasks_redis = connect(tasks_redis_socket)
    store, node = TaskStore(tasks_redis), RunClaims(tasks_redis, "n1")
    task = await store.create("eve", "free", hourly_at(0), now=BEFORE)
    assert task.expiry == BEFORE + EXPIRY_SECONDS
    after_expiry = BEFORE + EXPIRY_SECONDS + 30
    await tasks_redis.zadd(TASKS_DUE, {str(task.id): after_expiry - 10})
    expired = await node.claim(task.id, after_expiry)
    assert expired is not None and expired.decision == "expired"
    stored = await store.find(task.id)
    assert stored.fields.enabled is False and stored.next_due is None and stored.expired(after_expiry)
    extended = await store.extend("eve", task.id, now=after_expiry)
    assert extended.fields.enabled is True and extended.expiry == after_expiry + EXPIRY_SECONDS
    assert await tasks_redis.zscore(TASKS_DUE, str(task.id)) is not None


@pytest.mark.gen_test
async def test_a_deleted_task_is_never_claimed(tasks_redis_socket):
    tasks_redis = connect(tasks_redis_socket)
    store, node = TaskStore(tasks_redis), RunClaims(tasks_redis, "n1")
    task = await store.create("fay", "hacker", hourly_at(0), now=BEFORE)
    await store.delete("fay", task.id)
    assert await node.due_now(DUE + 1) == []
    assert await node.claim(task.id, DUE + 1) is None
