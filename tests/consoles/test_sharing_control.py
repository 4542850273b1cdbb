"""Access changes reaching live connections: revoke mid-stream, switch modes, across nodes;
and what every viewer is told about sizes and who is watching."""
from __future__ import annotations

import pytest

from consoles import Access
from consoles.access_control import AccessControl
from consoles.console import NOW_READ_ONLY, NOW_READ_WRITE
from consoles.sharing import AccessChange
from tests.consoles.node import ConsoleNode, wait_for

TICKER = ("bash", "--norc", "--noprofile", "-c", "while :; do echo tick; sleep 0.02; done")


def control_for(service: ConsoleNode) -> AccessControl:
    """The access control of a node, asking the same rules as the service's ``authorize``."""

    async def check(username: str, credential: str, console_id: str) -> Access | None:
        if credential in service.ended_credentials:
            return None
        console = service.manager.get_live(console_id)
        if console is not None and console.owner == username:
            return Access(username, readonly=False)
        mode = service.shares.get((console_id, username))
        return None if mode is None else Access(username, readonly=(mode == "ro"))

    return AccessControl(service.redis, service.manager, check)


@pytest.mark.gen_test(timeout=60)
async def test_revoking_disconnects_the_viewer_mid_stream_and_nobody_else(redis_socket, homes):
    async with ConsoleNode(redis_socket, homes) as service:
        control = control_for(service)
        console = await service.start_console(owner="alice", argv=TICKER)
        service.shares[(console.id, "bob")] = "ro"
        service.shares[(console.id, "carol")] = "rw"
        owner = await service.attach(console, user="alice")
        bob = await service.attach(console, user="bob", transport="xhr_streaming")
        carol = await service.attach(console, user="carol")
        for client in (owner, bob, carol):
            await client.output_until(r"(tick\r\n){3}")

        del service.shares[(console.id, "bob")]
        ended = await control.publish(AccessChange(console_id=console.id, username="bob",
                                                   reason="alice stopped sharing this console with you."))
        assert ended == 1
        messages = await bob.until_closed()
        assert messages[-1] == ["disconnect", "alice stopped sharing this console with you."]
        assert sum(1 for m in messages if m[0] == "stdout") >= 2  # it was streaming
        before = owner.output.count("tick")
        await owner.output_until(r"(tick\r\n){3}$")
        await wait_for(lambda: owner.output.count("tick") > before + 3, message="more output for alice")
        assert sorted(console.viewers()) == [("alice", False), ("carol", False)]
        assert not carol.closed.is_set()


@pytest.mark.gen_test(timeout=60)
async def test_a_typist_made_read_only_stops_typing_and_resizing_at_once(redis_socket, homes):
    async with ConsoleNode(redis_socket, homes) as service:
        control = control_for(service)
        console = await service.start_console(owner="alice")
        service.shares[(console.id, "carol")] = "rw"
        owner = await service.attach(console, user="alice")
        carol = await service.attach(console, user="carol")
        await carol.until(lambda m: m[0] == "setup")
        await carol.type("echo TYPED$((1+1))BYCAROL\n")
        await owner.output_until(r"TYPED2BYCAROL")

        service.shares[(console.id, "carol")] = "ro"
        assert await control.publish(AccessChange(console_id=console.id, username="carol",
                                                  reason="unused: carol keeps access")) == 1
        told = await carol.until(lambda m: m[0] == "status" and "readonly" in m[1])
        assert told == ["status", {"readonly": True, "message": NOW_READ_ONLY}]
        assert console.viewers() == [("alice", False), ("carol", True)]
        await carol.send(["set_size", 50, 132])
        await carol.type("echo SNEAKY$((2+2))\n")
        await carol.until(lambda m: m[0] == "status" and m[1].get("notice") == "readonly")
        await owner.type("stty size; echo OWNER$((3+3))DONE\n")
        await owner.output_until(r"OWNER6DONE")
        assert "\r24 80\r\n" in owner.output and "SNEAKY4" not in owner.output
        assert (console.rows, console.cols) == (24, 80)

        service.shares[(console.id, "carol")] = "rw"
        await control.publish(AccessChange(console_id=console.id, username="carol", reason="unused"))
        told = await carol.until(lambda m: m[0] == "status" and "readonly" in m[1])
        assert told == ["status", {"readonly": False, "message": NOW_READ_WRITE}]
        await carol.type("echo AGAIN$((4+4))\n")
        await owner.output_until(r"AGAIN8")


@pytest.mark.gen_test(timeout=60)
async def test_a_change_published_on_one_node_reaches_the_console_on_another(redis_socket, homes):
    async with ConsoleNode(redis_socket, homes, node_id="node-a") as node_a, \
            ConsoleNode(redis_socket, homes, node_id="node-b") as node_b:
        control_a, control_b = control_for(node_a), control_for(node_b)
        await control_a.start()
        try:
            console = await node_a.start_console(owner="alice", argv=TICKER)
            node_a.shares[(console.id, "bob")] = "ro"
            owner = await node_a.attach(console, user="alice")
            bob = await node_a.attach(console, user="bob")
            await bob.output_until("tick")
            del node_a.shares[(console.id, "bob")]
            # Node B runs no such console: nothing happens there, node A applies it.
            assert await control_b.publish(AccessChange(console_id=console.id, username="bob",
                                                        reason="revoked elsewhere")) == 0
            messages = await bob.until_closed()
            assert messages[-1] == ["disconnect", "revoked elsewhere"]
            assert console.viewers() == [("alice", False)]
            assert not owner.closed.is_set()
        finally:
            await control_a.stop()


@pytest.mark.gen_test(timeout=60)
async def test_owner_changes_apply_to_all_their_consoles(redis_socket, homes):
    async with ConsoleNode(redis_socket, homes) as service:
        control = control_for(service)
        first = await service.start_console(owner="alice")
        second = await service.start_console(owner="alice")
        other = await service.start_console(owner="dave")
        clients = []
        for console in (first, second, other):
            service.shares[(console.id, "bob")] = "ro"
            clients.append(await service.attach(console, user="bob"))
        for client in clients:
            await client.until(lambda m: m[0] == "setup")
        service.shares.clear()
        assert await control.publish(AccessChange(owner="alice", username="bob", reason="left the class")) == 2
        for client in clients[:2]:
            assert (await client.until_closed())[-1] == ["disconnect", "left the class"]
        assert other.viewers() == [("bob", True)]


@pytest.mark.gen_test(timeout=60)
async def test_every_viewer_learns_the_size_and_who_is_watching(redis_socket, homes):
    async with ConsoleNode(redis_socket, homes) as service:
        console = await service.start_console(owner="alice")
        service.shares[(console.id, "bob")] = "ro"
        service.shares[(console.id, "carol")] = "rw"
        bob = await service.attach(console, user="bob")
        owner = await service.attach(console, user="alice")
        carol = await service.attach(console, user="carol", transport="xhr_polling")
        second_bob = await service.attach(console, user="bob")
        expected = {"watchers": [{"username": "alice", "readonly": False, "connections": 1},
                                 {"username": "carol", "readonly": False, "connections": 1},
                                 {"username": "bob", "readonly": True, "connections": 2}],
                    "watchers_total": 3}
        for client in (bob, owner, carol, second_bob):
            await client.until(lambda m: m == ["status", expected])

        await owner.send(["set_size", 33, 99])
        for client in (bob, carol, second_bob):
            await client.until(lambda m: m == ["status", {"size": [33, 99]}])
        await bob.send(["set_size", 10, 10])  # a watcher's size changes nothing
        await carol.send(["set_size", 20, 70])  # nor a typist's while the owner has one
        await owner.type("stty size\n")
        await owner.output_until(r"\r33 99\r\n")
        assert [m for m in bob.received if m[0] == "status" and "size" in m[1]] == [["status", {"size": [33, 99]}]]

        await second_bob.close()
        await owner.until(lambda m: m[0] == "status" and m[1].get("watchers_total") == 3
                          and m[1]["watchers"][2] == {"username": "bob", "readonly": True, "connections": 1})


@pytest.mark.gen_test(timeout=60)
async def test_an_ended_login_closes_only_the_connections_it_opened_on_every_console(redis_socket, homes):
    async with ConsoleNode(redis_socket, homes) as service:
        control = control_for(service)
        own = await service.start_console(owner="alice", argv=TICKER)
        bobs = await service.start_console(owner="bob", argv=TICKER)
        service.shares[(bobs.id, "alice")] = "rw"
        old_tab = await service.attach(own, user="alice", Cookie="user=alice; login=old")
        old_tab_on_bobs = await service.attach(bobs, user="alice", transport="xhr_streaming",
                                               Cookie="user=alice; login=old")
        new_tab = await service.attach(own, user="alice", Cookie="user=alice; login=new")
        bob = await service.attach(bobs, user="bob", Cookie="user=bob; login=old")
        for client in (old_tab, old_tab_on_bobs, new_tab, bob):
            await client.output_until(r"(tick\r\n){2}")
        service.ended_credentials.add("old")
        # Alice's old login ended (a new password): wherever she is connected with it.
        assert await control.apply(AccessChange(username="alice", reason="log in again")) == 2
        for client in (old_tab, old_tab_on_bobs):
            assert (await client.until_closed())[-1] == ["disconnect", "log in again"]
        assert own.logins() == {("alice", "new")}
        assert bobs.logins() == {("bob", "old")}
        await new_tab.output_until(r"(tick\r\n){2}")
        await bob.output_until(r"(tick\r\n){2}")
