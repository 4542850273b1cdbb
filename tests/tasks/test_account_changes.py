"""A change of account type fits the user's tasks to the new limits: disabled, never deleted."""
from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from consoles.keys import TASKS_DUE
from tasks.always_on import AlwaysOnStore
from tasks.fields import TaskFields
from tasks.store import EXPIRY_SECONDS, TaskStore
from tasks.timing import Timing

NOW = 1796277540.0


def connect(socket_path: str) -> aioredis.Redis:
    return aioredis.Redis(unix_socket_path=socket_path, decode_responses=True)


@pytest.mark.gen_test
async def test_a_downgrade_disables_the_newest_tasks_and_gives_the_rest_an_expiry(tasks_redis_socket):
    redis = connect(tasks_redis_socket)
    store = TaskStore(redis)
    ids = [(await store.create("ann", "hacker", TaskFields(f"echo {n}", "", True, Timing("hourly", n)),
                               now=NOW)).id for n in range(3)]
    assert [(await store.get("ann", i)).expiry for i in ids] == [None, None, None]
    assert await store.fit_account_type("ann", "free", now=NOW) == ids[1:]
    tasks = await store.list("ann")
    assert [t.fields.enabled for t in tasks] == [True, False, False]
    assert all(t.expiry == NOW + EXPIRY_SECONDS for t in tasks)
    assert await redis.zrange(TASKS_DUE, 0, -1) == [str(ids[0])]
    # Upgraded again: nothing is re-enabled behind the user's back, but they may, and nothing expires.
    assert await store.fit_account_type("ann", "hacker", now=NOW) == []
    assert all(t.expiry is None for t in await store.list("ann"))
    changed = await store.update("ann", ids[2], (await store.get("ann", ids[2])).fields.changed_by({"enabled": True}))
    assert changed.fields.enabled


@pytest.mark.gen_test
async def test_a_downgrade_stops_always_on_tasks_over_the_limit(tasks_redis_socket):
    store = AlwaysOnStore(connect(tasks_redis_socket))
    ids = [(await store.create("bob", "web_developer", {"command": f"bot {n}"}, "n1")).id for n in range(3)]
    assert await store.fit_account_type("bob", "hacker") == ids[1:]
    assert [t.enabled for t in await store.list("bob")] == [True, False, False]
    assert await store.fit_account_type("bob", "free") == ids[:1]
    assert [t.enabled for t in await store.list("bob")] == [False, False, False]
    assert len(await store.list("bob")) == 3
