"""Several viewers on one console: read-only rules, sizes, viewer counts, revocation."""
from __future__ import annotations

import pytest

from consoles.stream import READ_ONLY_NOTICE
from tests.consoles.node import ConsoleNode, screen_text, wait_for


@pytest.mark.gen_test(timeout=60)
@pytest.mark.parametrize("transport", ["websocket", "xhr_streaming"])
async def test_read_only_viewer_cannot_type_or_resize(redis_socket, homes, transport):
    async with ConsoleNode(redis_socket, homes) as service:
        console = await service.start_console(owner="alice")
        service.shares[(console.id, "bob")] = "ro"
        owner = await service.attach(console, user="alice")
        await owner.until(lambda m: m[0] == "setup")
        viewer = await service.attach(console, user="bob", transport=transport)
        setup = await viewer.next()
        assert setup[1]["readonly"] is True and setup[1]["owner"] == "alice"
        await owner.until(lambda m: m == ["status", {"viewers": 2}])

        await viewer.send(["set_size", 50, 120])
        await viewer.type("echo READ$((1+1))ONLY\n")
        await viewer.type("echo again\n")
        notice = await viewer.until(lambda m: m[0] == "status" and "notice" in m[1])
        assert notice == ["status", {"notice": "readonly", "message": READ_ONLY_NOTICE}]

        await owner.type("stty size; echo OWNER$((1+1))DONE\n")
        await owner.output_until(r"OWNER2DONE")
        await viewer.output_until(r"OWNER2DONE")
        assert "\r24 80\r\n" in owner.output
        assert "READ2ONLY" not in owner.output and "READ2ONLY" not in screen_text(console)
        notices = [m for m in viewer.of_kind("status") if m[1].get("notice") == "readonly"]
        assert len(notices) == 1  # told once per connection
        assert (console.rows, console.cols) == (24, 80)


@pytest.mark.gen_test(timeout=60)
async def test_size_follows_the_owner_then_the_last_read_write_viewer(redis_socket, homes):
    async with ConsoleNode(redis_socket, homes) as service:
        console = await service.start_console(owner="alice")
        service.shares[(console.id, "carol")] = "rw"
        owner = await service.attach(console, user="alice")
        collaborator = await service.attach(console, user="carol")
        await owner.until(lambda m: m[0] == "setup")
        await collaborator.until(lambda m: m[0] == "setup")
        await owner.send(["set_size", 30, 90])
        await wait_for(lambda: (console.rows, console.cols) == (30, 90))
        await collaborator.send(["set_size", 20, 70])
        await collaborator.type("stty size\n")
        await collaborator.output_until(r"\r30 90\r\n")  # the owner's size wins

        await owner.close()
        await wait_for(lambda: console.viewers() == [("carol", False)])
        await collaborator.send(["set_size", 21, 71])
        await collaborator.type("stty size\n")
        await collaborator.output_until(r"\r21 71\r\n")
        await collaborator.type("echo typed by carol\n")
        await collaborator.output_until(r"\rtyped by carol\r\n")


@pytest.mark.gen_test(timeout=60)
async def test_disconnect_user_closes_only_their_connections(redis_socket, homes):
    async with ConsoleNode(redis_socket, homes) as service:
        console = await service.start_console(owner="alice")
        service.shares[(console.id, "bob")] = "ro"
        owner = await service.attach(console, user="alice")
        first = await service.attach(console, user="bob")
        second = await service.attach(console, user="bob", transport="xhr_polling")
        for client in (owner, first, second):
            await client.until(lambda m: m[0] == "setup")
        await owner.until(lambda m: m == ["status", {"viewers": 3}])
        assert sorted(console.viewers()) == [("alice", False), ("bob", True), ("bob", True)]

        assert console.disconnect_user("bob", "Sharing was revoked.") == 2
        for client in (first, second):
            messages = await client.until_closed()
            assert messages[-1] == ["disconnect", "Sharing was revoked."]
        await owner.until(lambda m: m == ["status", {"viewers": 1}])
        assert console.viewers() == [("alice", False)]


@pytest.mark.gen_test(timeout=60)
async def test_notices_reach_every_viewer(redis_socket, homes):
    async with ConsoleNode(redis_socket, homes) as service:
        console = await service.start_console(owner="alice")
        service.shares[(console.id, "bob")] = "ro"
        clients = [await service.attach(console, user="alice"),
                   await service.attach(console, user="bob", transport="xhr_streaming")]
        for client in clients:
            await client.until(lambda m: m[0] == "setup")
        console.notify("tarpit", "You have used your CPU allowance for today.")
        for client in clients:
            notice = await client.until(lambda m: m[0] == "status" and "notice" in m[1])
            assert notice[1] == {"notice": "tarpit",
                                 "message": "You have used your CPU allowance for today."}
