"""The share store against a real Redis: grants, modes, the broadcast mark, forgetting a console."""
from __future__ import annotations

import time

import pytest
import redis.asyncio as aioredis

from consoles.registry import RUNNING, ConsoleRecord, ConsoleRegistry
from consoles.sharing import ConsoleGone, ShareModeInvalid, ShareStore


async def registered(redis: aioredis.Redis, console_id: str, owner: str = "alice") -> str:
    record = ConsoleRecord(id=console_id, owner=owner, node="n", argv=("bash",), cwd="/", name="c",
                           created=time.time(), status=RUNNING, exit_status=None, ended_reason=None)
    assert await ConsoleRegistry(redis).reserve(record, limit=100)
    return console_id


def client(socket_path: str) -> aioredis.Redis:
    return aioredis.Redis(unix_socket_path=socket_path, decode_responses=True)


@pytest.mark.gen_test
async def test_share_change_mode_and_revoke(redis_socket):
    async with client(redis_socket) as redis:
        store = ShareStore(redis)
        console = await registered(redis, "c1")
        assert await store.share(console, "bob", "ro") is None
        assert await store.share(console, "carol", "rw") is None
        assert await store.share(console, "bob", "rw") == "ro"
        assert await store.share(console, "bob", "rw") == "rw"
        assert await store.shares(console) == {"bob": "rw", "carol": "rw"}
        assert await store.shared_with("bob") == {console}
        assert await redis.hgetall("ide:console:c1:shares") == {"bob": "rw", "carol": "rw"}

        assert await store.revoke(console, "bob") is True
        assert await store.revoke(console, "bob") is False
        assert await store.shares(console) == {"carol": "rw"}
        assert await store.shared_with("bob") == set()
        assert await store.mode_and_broadcast(console, "carol") == ("rw", False)
        assert await store.mode_and_broadcast(console, "bob") == (None, False)


@pytest.mark.gen_test
async def test_bad_modes_and_closed_consoles_are_refused(redis_socket):
    async with client(redis_socket) as redis:
        store = ShareStore(redis)
        console = await registered(redis, "c2")
        with pytest.raises(ShareModeInvalid, match='"ro".*"rw".*"write"'):
            await store.share(console, "bob", "write")
        with pytest.raises(ConsoleGone):
            await store.share("nonexistent", "bob", "ro")
        with pytest.raises(ConsoleGone):
            await store.start_broadcast("nonexistent")
        assert await store.shared_with("bob") == set()
        assert not await redis.exists("ide:console:nonexistent:shares")


@pytest.mark.gen_test
async def test_broadcast_mark_is_not_a_share(redis_socket):
    async with client(redis_socket) as redis:
        store = ShareStore(redis)
        first, second, third = [await registered(redis, f"b{i}") for i in range(3)]
        await store.share(first, "bob", "ro")
        assert await store.start_broadcast(first) is True
        assert await store.start_broadcast(first) is False
        assert await store.start_broadcast(third) is True
        assert await store.shares(first) == {"bob": "ro"}
        assert await store.mode_and_broadcast(first, "anyone") == (None, True)
        assert await store.is_broadcast(first) and not await store.is_broadcast(second)
        assert await store.broadcasts_among([third, second, first]) == [third, first]
        assert await store.end_broadcast(first) is True
        assert await store.end_broadcast(first) is False
        assert await store.mode_and_broadcast(first, "bob") == ("ro", False)


@pytest.mark.gen_test
async def test_forgetting_a_console_clears_every_sharees_set(redis_socket):
    async with client(redis_socket) as redis:
        store = ShareStore(redis)
        kept, closed = await registered(redis, "k1"), await registered(redis, "x1")
        for name in ("bob", "carol"):
            await store.share(closed, name, "ro")
            await store.share(kept, name, "rw")
        await store.start_broadcast(closed)
        await store.forget_console(closed)
        assert not await redis.exists("ide:console:x1:shares")
        assert await store.shared_with("bob") == {kept} and await store.shared_with("carol") == {kept}
        assert await store.shares(kept) == {"bob": "rw", "carol": "rw"}

        await store.drop_from_shared_with("bob", [kept])
        assert await store.shared_with("bob") == set()
