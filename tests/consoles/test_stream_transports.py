"""The console stream over every transport: attach, type, resize, detach, replay, exit."""
from __future__ import annotations

import asyncio

import pytest

from consoles.stream import REFUSED
from tests.consoles.node import ConsoleNode
from tests.consoles.sockjs_client import TRANSPORTS


@pytest.mark.gen_test(timeout=120)
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_attach_type_resize_replay_and_exit(redis_socket, homes, transport):
    async with ConsoleNode(redis_socket, homes) as service:
        console = await service.start_console(name="my shell")
        client = await service.attach(console, transport=transport)

        setup = await client.next()
        assert setup == ["setup", {"id": console.id, "readonly": False, "rows": 24, "cols": 80,
                                   "title": "my shell", "owner": "alice"}]
        await client.type("echo $((6*7))\n")
        await client.output_until(r"\r42\r\n")

        await client.send(["set_size", 40, 100, 800, 600])
        await client.type("stty size\n")
        await client.output_until(r"\r40 100\r\n")
        await client.close()

        again = await service.attach(console, transport=transport)
        setup = await again.next()
        assert setup[1]["rows"] == 40 and setup[1]["cols"] == 100
        replay = await again.next()
        assert replay[0] == "stdout"
        assert "\r42\r\n" in replay[1] and "\r40 100\r\n" in replay[1]

        await again.type("exit 3\n")
        messages = await again.until_closed()
        assert ["status", {"exit_status": 3}] in messages
        assert messages[-1] == ["disconnect", "Process exited with status 3"]
        record = await service.manager.record(console.id)
        while record.status != "exited":  # recorded by a scheduled coroutine
            await asyncio.sleep(0.05)
            record = await service.manager.record(console.id)
        assert record.exit_status == 3


@pytest.mark.gen_test(timeout=60)
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_missing_and_foreign_consoles_get_the_same_refusal(redis_socket, homes, transport):
    async with ConsoleNode(redis_socket, homes) as service:
        console = await service.start_console(owner="alice")
        foreign = await service.attach(console, user="mallory", transport=transport)
        missing = await service.attach("0123456789abcdef", user="mallory", transport=transport)
        assert await foreign.until_closed() == [["disconnect", REFUSED]]
        assert await missing.until_closed() == [["disconnect", REFUSED]]
