"""The console manager and its Redis registry: limits, records, closing, restarts."""
from __future__ import annotations

import json
import os
import signal

import pytest

from consoles import ConsoleLimitReached
from consoles.adoption import ENDED_BEFORE_RESTART, ORPHANED_REASON
from consoles.manager import SHUTDOWN_REASON
from consoles.registry import ConsoleRecord
from sandbox import SpawnError
from tests.consoles.node import BASH, ConsoleNode, is_gone, wait_for


@pytest.mark.gen_test(timeout=60)
async def test_records_are_stored_under_the_key_plan(redis_socket, homes):
    async with ConsoleNode(redis_socket, homes, node_id="node-a") as service:
        console = await service.start_console(owner="alice", name="Bash console")
        stored = await service.redis.hgetall(f"ide:console:{console.id}")
        assert stored["owner"] == "alice" and stored["node"] == "node-a"
        assert json.loads(stored["argv"]) == list(BASH)
        assert stored["cwd"] == "/home/alice" and stored["name"] == "Bash console"
        assert stored["status"] == "running" and float(stored["created"]) > 0
        assert await service.redis.smembers("ide:user:alice:consoles") == {console.id}
        assert len(console.id) == 16 and int(console.id, 16) >= 0

        record = await service.manager.record(console.id)
        assert record.argv == BASH and record.exit_status is None and record.ended_reason is None
        assert await service.manager.record("nope") is None


@pytest.mark.gen_test(timeout=60)
async def test_list_is_sorted_by_creation(redis_socket, homes):
    async with ConsoleNode(redis_socket, homes) as service:
        ids = [(await service.start_console(owner="alice", name=f"c{i}")).id for i in range(4)]
        await service.start_console(owner="bob")
        records = await service.manager.list_for("alice")
        assert [record.id for record in records] == ids
        assert [record.name for record in records] == ["c0", "c1", "c2", "c3"]
        assert await service.manager.list_for("nobody") == []
        some = await service.manager.records([ids[2], "missing", ids[0], ids[2]])
        assert [record.id for record in some] == [ids[0], ids[2]]
        assert service.manager.root_pids("alice") == [service.manager.get_live(i).pid for i in ids]


@pytest.mark.gen_test(timeout=60)
async def test_console_limit_holds_and_frees_on_close(redis_socket, homes):
    async with ConsoleNode(redis_socket, homes) as service:
        first = await service.start_console(owner="alice", limit=2)
        await service.start_console(owner="alice", limit=2)
        with pytest.raises(ConsoleLimitReached) as refused:
            await service.start_console(owner="alice", limit=2)
        assert refused.value.limit == 2
        assert str(refused.value) == ("You already have 2 consoles, the most your account allows; "
                                      "close one to start another.")
        assert len(await service.manager.list_for("alice")) == 2
        await service.start_console(owner="bob", limit=1)  # limits are per user
        await service.manager.close(first.id)
        await service.start_console(owner="alice", limit=2)


@pytest.mark.gen_test(timeout=60)
async def test_console_limit_holds_across_nodes(redis_socket, homes, tmp_path):
    async with ConsoleNode(redis_socket, homes, node_id="node-a") as node_a, \
            ConsoleNode(redis_socket, homes, node_id="node-b") as node_b:
        await node_a.start_console(owner="alice", limit=2)
        await node_b.start_console(owner="alice", limit=2)
        for node in (node_a, node_b):
            with pytest.raises(ConsoleLimitReached, match="1 console,|2 consoles,"):
                await node.start_console(owner="alice", limit=2)
        records = await node_a.manager.list_for("alice")
        assert sorted(record.node for record in records) == ["node-a", "node-b"]


@pytest.mark.gen_test(timeout=60)
async def test_a_finished_console_counts_until_closed(redis_socket, homes):
    async with ConsoleNode(redis_socket, homes) as service:
        console = await service.start_console(owner="alice", argv=["true"], limit=1)
        await wait_for(lambda: console.finished)

        async def recorded_exit():
            record = await service.manager.record(console.id)
            return record.status == "exited" and record.exit_status == 0

        await wait_for(recorded_exit, message="the exit in Redis")
        with pytest.raises(ConsoleLimitReached, match="1 console, the most"):
            await service.start_console(owner="alice", limit=1)
        await service.manager.close(console.id)
        await service.start_console(owner="alice", limit=1)


@pytest.mark.gen_test(timeout=60)
async def test_spawn_errors_pass_through_and_release_the_slot(redis_socket, homes):
    async with ConsoleNode(redis_socket, homes) as service:
        with pytest.raises(SpawnError, match="command not found"):
            await service.start_console(owner="alice", argv=["no-such-program-here"], limit=1)
        with pytest.raises(SpawnError, match="does not exist"):
            identity = service.sandbox.identity("alice", "free")
            await service.manager.create(identity, ["bash"], "/home/alice/missing", "x", 1)
        assert await service.manager.list_for("alice") == []
        await service.start_console(owner="alice", limit=1)


@pytest.mark.gen_test(timeout=60)
async def test_close_works_for_unknown_and_ended_consoles(redis_socket, homes):
    async with ConsoleNode(redis_socket, homes) as service:
        assert await service.manager.close("0000000000000000") is False
        await service.redis.hset("ide:console:feedfeedfeedfeed", mapping={
            "owner": "alice", "node": "gone-node", "argv": '["bash"]', "cwd": "/home/alice",
            "name": "old", "created": "1.0", "status": "ended", "ended_reason": "x"})
        await service.redis.sadd("ide:user:alice:consoles", "feedfeedfeedfeed")
        assert await service.manager.close("feedfeedfeedfeed") is True
        assert await service.redis.exists("ide:console:feedfeedfeedfeed") == 0
        assert await service.redis.smembers("ide:user:alice:consoles") == set()


@pytest.mark.gen_test(timeout=60)
async def test_a_restarted_node_takes_its_consoles_back_with_state_and_scrollback(redis_socket, homes, tmp_path):
    files = tmp_path / "scrollback"
    files.mkdir()
    async with ConsoleNode(redis_socket, homes, node_id="node-a", scrollback_dir=files) as before, \
            ConsoleNode(redis_socket, homes, node_id="node-b") as other_node:
        kept = await before.start_console(owner="alice")
        kept.send_input("x=41; echo marker-$((x+1))\n")
        await wait_for(lambda: "marker-42" in kept.output_tail(100), message="the shell's answer")
        done = await before.start_console(owner="alice", argv=["true"])
        await wait_for(lambda: done.finished, message="true to end")
        waits_for_go = "until [ -e go ]; do sleep 0.05; done; echo bye; exit 7"
        ends_meanwhile = await before.start_console(owner="alice", argv=["bash", "-c", waits_for_go])
        survivor = await other_node.start_console(owner="alice")
        await wait_for(lambda: before.manager.get_live(ends_meanwhile.id).running)
        await before.manager.leave_running()  # the server stops; the node's holder keeps the programs
        assert not is_gone(kept.pid)
        (homes / "alice" / "go").touch()
        await wait_for(lambda: is_gone(ends_meanwhile.pid), message="the program to end while no server runs")

        async with ConsoleNode(redis_socket, homes, node_id="node-a", scrollback_dir=files) as after:
            assert await after.manager.adopt() == (2, 1)
            again = after.manager.get_live(kept.id)
            assert again is not None and again.running and again.pid == kept.pid
            assert "marker-42" in again.output_tail(100)  # the scrollback came back from its file
            again.send_input("echo again-$x\n")
            await wait_for(lambda: "again-41" in again.output_tail(100), message="the same shell, same state")
            record = await wait_for(lambda: _exited(after, ends_meanwhile.id), message="the end to be recorded")
            assert record.exit_status == 7
            assert "bye" in after.manager.get_live(ends_meanwhile.id).output_tail(100)
            records = {record.id: record for record in await after.manager.list_for("alice")}
            assert records[done.id].status == "ended" and records[done.id].ended_reason == ENDED_BEFORE_RESTART
            assert records[survivor.id].status == "running"
            assert await after.manager.adopt() == (0, 0)
            assert await after.manager.close(kept.id) is True
            assert not (files / kept.id).exists()


async def _exited(node: ConsoleNode, console_id: str) -> ConsoleRecord | None:
    record = await node.manager.record(console_id)
    return record if record is not None and record.status == "exited" else None


@pytest.mark.gen_test(timeout=60)
async def test_a_console_the_holder_no_longer_keeps_is_marked_ended(redis_socket, homes):
    async with ConsoleNode(redis_socket, homes, node_id="node-a") as before:
        lost = await before.start_console(owner="alice")
        await before.manager.leave_running()
        os.kill(lost.pid, signal.SIGKILL)
        await wait_for(lambda: is_gone(lost.pid))
        before.sandbox.release(lost.id)  # as if its holder had gone with it
        await wait_for(lambda: before.sandbox.holder.exit_of(lost.id) is None)
        async with ConsoleNode(redis_socket, homes, node_id="node-a") as after:
            await wait_for(lambda: _not_held(after, lost.id), message="the holder to forget it")
            assert await after.manager.adopt() == (0, 1)
            record = await after.manager.record(lost.id)
            assert record.status == "ended" and record.ended_reason == ORPHANED_REASON


async def _not_held(node: ConsoleNode, console_id: str) -> bool:
    return all(program.id != console_id for program in await node.sandbox.held_programs())


@pytest.mark.gen_test(timeout=60)
async def test_shutdown_kills_everything_and_marks_it_ended(redis_socket, homes):
    service = ConsoleNode(redis_socket, homes)
    async with service:
        console = await service.start_console(owner="alice")
        client = await service.attach(console)
        await client.until(lambda m: m[0] == "setup")
        pid = console.pid
        await service.manager.shutdown()
        messages = await client.until_closed()
        assert messages[-1][0] == "disconnect"
        record = await service.manager.record(console.id)
        assert record.status == "ended" and record.ended_reason == SHUTDOWN_REASON
        assert service.manager.get_live(console.id) is None
        assert is_gone(pid)  # shutdown waited for the reaping
