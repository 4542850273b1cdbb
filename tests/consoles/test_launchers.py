"""Custom launchers in Redis, with validation."""
from __future__ import annotations

import json

import pytest
import redis.asyncio as aioredis

from consoles import LauncherInvalid, LauncherNotFound, LauncherStore
from consoles.launchers import MAX_LAUNCHERS


@pytest.fixture
def store_redis(redis_socket):
    return aioredis.Redis(unix_socket_path=redis_socket, decode_responses=True)


@pytest.mark.gen_test(timeout=30)
async def test_create_list_get_update_delete(store_redis):
    store = LauncherStore(store_redis)
    bot = await store.create("alice", "  My bot ", "python3 bot.py --name 'the bot'", "/home/alice/bot")
    assert bot.name == "My bot" and bot.argv == ["python3", "bot.py", "--name", "the bot"]
    other = await store.create("alice", "another", "bash", "/home/alice")
    stored = await store_redis.hget("ide:user:alice:launchers", bot.id)
    assert json.loads(stored) == {"id": bot.id, "name": "My bot", "command": bot.command,
                                  "working_directory": "/home/alice/bot"}
    assert [launcher.name for launcher in await store.list("alice")] == ["another", "My bot"]
    assert await store.get("alice", bot.id) == bot
    with pytest.raises(LauncherNotFound):
        await store.get("bob", bot.id)

    updated = await store.update("alice", bot.id, "Bot", "python3 -u bot.py", "/home/alice")
    assert await store.get("alice", bot.id) == updated and updated.argv == ["python3", "-u", "bot.py"]
    with pytest.raises(LauncherNotFound):
        await store.update("alice", "missing", "x", "y", "/")
    with pytest.raises(LauncherNotFound):
        await store.get("alice", "missing")

    await store.delete("alice", other.id)
    for gone in (store.delete("alice", other.id), store.update("alice", other.id, "x", "y", "/")):
        with pytest.raises(LauncherNotFound):
            await gone
    assert [launcher.id for launcher in await store.list("alice")] == [bot.id]
    await store_redis.aclose()


@pytest.mark.gen_test(timeout=30)
@pytest.mark.parametrize("name, command, directory, error", [
    ("", "bash", "/", "name must be 1 to 60"),
    ("x" * 61, "bash", "/", "name must be 1 to 60"),
    ("a\nb", "bash", "/", "control characters"),
    ("ok", "   ", "/", "command is empty"),
    ("ok", "x" * 1001, "/", "limit is 1000"),
    ("ok", "echo 'unbalanced", "/", "every quote is closed"),
    ("ok", 'echo "also', "/", "every quote is closed"),
    ("ok", "''", "/", "command is empty"),
    ("ok", "bash", "relative/dir", "absolute path"),
    ("ok", "bash", "", "absolute path"),
])
async def test_invalid_launchers_are_refused(store_redis, name, command, directory, error):
    store = LauncherStore(store_redis)
    with pytest.raises(LauncherInvalid, match=error):
        await store.create("alice", name, command, directory)
    assert await store.list("alice") == []
    await store_redis.aclose()


@pytest.mark.gen_test(timeout=30)
async def test_number_of_launchers_is_capped(store_redis):
    store = LauncherStore(store_redis)
    for i in range(MAX_LAUNCHERS):
        await store.create("alice", f"l{i}", "bash", "/home/alice")
    with pytest.raises(LauncherInvalid, match=f"already have {MAX_LAUNCHERS} launchers"):
        await store.create("alice", "one more", "bash", "/home/alice")
    await store_redis.aclose()
