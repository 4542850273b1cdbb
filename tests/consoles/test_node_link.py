"""Consoles run by another node: typed into, read and closed through that node, over one real Redis."""
from __future__ import annotations

import asyncio
import json

import pytest
import redis.asyncio as aioredis

from consoles import ConsoleNotRunning, InputBufferFull
from consoles.node_link import NodeLink, NodeUnavailable, RemoteError, channel_of
from tests.consoles.node import DEPLOYMENT_KEY, ConsoleNode, is_gone, screen_text, wait_for

SILENT = ("sleep", "600")  # holds its terminal and never reads it


@pytest.mark.gen_test(timeout=60)
async def test_another_node_types_into_reads_and_closes_a_console(redis_socket, homes):
    async with ConsoleNode(redis_socket, homes, node_id="node-a") as node_a, \
            ConsoleNode(redis_socket, homes, node_id="node-b") as node_b:
        console = await node_a.start_console(owner="alice")
        record = await node_b.manager.record(console.id)
        assert record.node == "node-a" and node_b.manager.get_live(console.id) is None

        await node_b.manager.send_input(record, "echo $((6*7))\r")

        async def answered() -> bool:
            return "\n42" in await node_b.manager.latest_output(record)
        await wait_for(answered, message="42 on node-a's screen, read from node-b")
        assert await node_b.manager.latest_output(record) == screen_text(console)

        assert await node_b.manager.close(console.id) is True
        assert node_a.manager.get_live(console.id) is None
        assert await node_b.manager.record(console.id) is None
        assert await node_a.redis.smembers("ide:user:alice:consoles") == set()
        await wait_for(lambda: is_gone(console.pid), message="node-a's program killed")
        assert await node_b.manager.close(console.id) is False  # nothing left to close


@pytest.mark.gen_test(timeout=60)
async def test_the_owning_node_refusals_reach_the_asker_as_the_same_errors(redis_socket, homes):
    async with ConsoleNode(redis_socket, homes, node_id="node-a") as node_a, \
            ConsoleNode(redis_socket, homes, node_id="node-b") as node_b:
        finished = await node_a.start_console(owner="alice", argv=["true"])
        await wait_for(lambda: finished.finished)
        record = await node_b.manager.record(finished.id)
        with pytest.raises(ConsoleNotRunning, match="program has ended; start a new console"):
            await node_b.manager.send_input(record, "ls\r")
        assert await node_b.manager.latest_output(record) == screen_text(finished)

        silent = await node_a.start_console(owner="alice", argv=SILENT)
        record = await node_b.manager.record(silent.id)
        await node_b.manager.send_input(record, "x" * 700_000)
        with pytest.raises(InputBufferFull, match="not reading its input"):
            await node_b.manager.send_input(record, "y" * 700_000)
        assert silent.running  # refused, nothing broken


@pytest.mark.gen_test(timeout=60)
async def test_a_node_that_is_down_is_reported_and_its_consoles_can_be_forgotten(redis_socket, homes):
    crashed = ConsoleNode(redis_socket, homes, node_id="node-c")  # never listens: as if it died
    try:
        async with ConsoleNode(redis_socket, homes, node_id="node-b") as node_b:
            console = await crashed.start_console(owner="alice")
            record = await node_b.manager.record(console.id)
            for attempt in (node_b.manager.send_input(record, "ls\r"), node_b.manager.latest_output(record)):
                with pytest.raises(NodeUnavailable, match=r"\(node-c\) is not answering; try again") as down:
                    await attempt
                assert down.value.listening is False
            assert await node_b.manager.close(console.id) is True
            assert await node_b.manager.list_for("alice") == []  # the limit is freed
    finally:
        await crashed.manager.shutdown()
        await crashed.sandbox.close()
        await crashed.redis.aclose()


@pytest.mark.gen_test(timeout=30)
async def test_a_node_that_listens_but_does_not_answer_times_out(redis_socket):
    redis = aioredis.Redis(unix_socket_path=redis_socket, decode_responses=True)
    pubsub = redis.pubsub()
    await pubsub.subscribe(channel_of("node-stuck"))

    async def never(operation, console_id, arguments):
        raise AssertionError("not asked")

    link = NodeLink(redis, "node-b", DEPLOYMENT_KEY, never, timeout=0.3)
    try:
        with pytest.raises(NodeUnavailable) as stuck:
            await link.ask("node-stuck", "output", "0123456789abcdef")
        assert stuck.value.listening is True
    finally:
        await pubsub.aclose()
        await redis.aclose()


@pytest.mark.gen_test(timeout=30)
async def test_unreadable_requests_are_ignored_and_failures_are_not_leaked(redis_socket):
    redis = aioredis.Redis(unix_socket_path=redis_socket, decode_responses=True)
    calls = []

    async def handler(operation, console_id, arguments):
        calls.append((operation, console_id, arguments))
        if operation == "boom":
            raise OSError("/secret/path exploded")
        if operation == "refuse":
            raise ConsoleNotRunning("it has ended")
        return {"echo": arguments}

    serving = NodeLink(redis, "node-a", DEPLOYMENT_KEY, handler, refusals=(ConsoleNotRunning,))
    asking = NodeLink(redis, "node-b", DEPLOYMENT_KEY, handler, timeout=2)
    await serving.start()
    try:
        for garbage in ("not json", json.dumps({"operation": "x"}), json.dumps([1, 2]),
                        json.dumps({"operation": "x", "console": "c", "reply": "elsewhere:key"})):
            await redis.publish(channel_of("node-a"), DEPLOYMENT_KEY.seal(channel_of("node-a"), garbage))
        assert await asking.ask("node-a", "echo", "c1", text="é\x00") == {"echo": {"text": "é\x00"}}
        with pytest.raises(RemoteError, match="it has ended") as refused:
            await asking.ask("node-a", "refuse", "c1")
        assert refused.value.kind == "ConsoleNotRunning"
        with pytest.raises(RemoteError) as failed:
            await asking.ask("node-a", "boom", "c1")
        assert failed.value.kind == "failure" and "/secret" not in str(failed.value)
        assert [call[0] for call in calls] == ["echo", "refuse", "boom"]
        await asyncio.sleep(0.05)
        assert await redis.keys("ide:node-reply:*") == []  # every answer was taken
    finally:
        await serving.stop()
        await redis.aclose()
