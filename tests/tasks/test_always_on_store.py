"""Always-on tasks in Redis: limits, owners, the keeping node, restart requests, bad input."""
from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from tasks.always_on import AlwaysOnNotFound, AlwaysOnStore
from tasks.timing import TaskInvalid


def connect(socket_path: str) -> aioredis.Redis:
    return aioredis.Redis(unix_socket_path=socket_path, decode_responses=True)


@pytest.mark.gen_test
async def test_limits_hold_even_when_created_at_once(tasks_redis_socket):
    store = AlwaysOnStore(connect(tasks_redis_socket))
    results = await asyncio.gather(*(store.create("ann", "web_developer", {"command": f"bot {i}"}, "n1")
                                     for i in range(10)), return_exceptions=True)
    assert sum(1 for r in results if not isinstance(r, Exception)) == 3
    assert all("can have 3 always-on tasks" in str(r) for r in results if isinstance(r, Exception))
    with pytest.raises(TaskInvalid, match="cannot have always-on tasks"):
        await store.create("bob", "free", {"command": "bot"}, "n1")
    assert len(await store.list("ann")) == 3 and await store.list("bob") == []


@pytest.mark.gen_test
async def test_a_task_belongs_to_its_owner_and_its_node(tasks_redis_socket):
    store = AlwaysOnStore(connect(tasks_redis_socket))
    task = await store.create("cy", "hacker", {"command": "python3 bot.py", "description": "my bot"}, "n1")
    assert await store.kept_by("n1") == [task.id] and await store.kept_by("n2") == []
    for attempt in (store.get("eve", task.id), store.change("eve", task.id, {"command": "id > ~/pwned"}),
                    store.request_restart("eve", task.id), store.delete("eve", task.id)):
        with pytest.raises(AlwaysOnNotFound):
            await attempt
    assert (await store.get("cy", task.id)).command == "python3 bot.py"
    await asyncio.gather(store.request_restart("cy", task.id), store.request_restart("cy", task.id))
    assert (await store.get("cy", task.id)).restarts_requested == 2
    changed = await store.change("cy", task.id, {"enabled": False, "command": "python3 bot2.py"})
    assert (changed.enabled, changed.command) == (False, "python3 bot2.py")
    await store.delete("cy", task.id)
    assert await store.kept_by("n1") == [] and await store.list("cy") == []


@pytest.mark.gen_test
@pytest.mark.parametrize("body, message", [
    ({}, "command is required"),
    ({"command": ""}, "non-empty"),
    ({"command": "a\0b"}, "NUL"),
    ({"command": "bot", "enabled": "perhaps"}, "enabled must be true or false"),
])
async def test_bad_input_is_refused_with_the_reason(tasks_redis_socket, body, message):
    store = AlwaysOnStore(connect(tasks_redis_socket))
    with pytest.raises(TaskInvalid, match=message):
        await store.create("dee", "hacker", body, "n1")
    assert await store.list("dee") == []
    task = await store.create("dee", "hacker", {"command": "bot"}, "n1")
    with pytest.raises(TaskInvalid, match="unknown field: colour"):
        await store.change("dee", task.id, {"colour": "red"})
