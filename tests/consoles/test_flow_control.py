"""Flow control: read-write viewers hold the program back, read-only viewers never do."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from consoles import FlowLimits
from tests.consoles.node import ConsoleNode, wait_for

LIMITS = FlowLimits(high_watermark=64 * 1024, low_watermark=16 * 1024,
                    viewer_cap=256 * 1024, catch_up_bytes=16 * 1024)


def bytes_written(pid: int) -> int:
    """What the process has written so far (its ``wchar`` counter)."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    raise AssertionError(f"no wchar for {pid}")


async def blocked_at(pid: int, timeout: float = 60) -> int:
    """Wait until the program stops writing (two samples half a second apart agree)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    previous = bytes_written(pid)
    while loop.time() < deadline:
        await asyncio.sleep(0.5)
        current = bytes_written(pid)
        if current == previous:
            return current
        previous = current
    raise AssertionError(f"process {pid} kept writing: {previous} bytes")


@pytest.mark.gen_test(timeout=120)
async def test_pause_from_the_owner_blocks_the_program_until_resume(redis_socket, homes):
    async with ConsoleNode(redis_socket, homes, limits=LIMITS) as service:
        console = await service.start_console(argv=["yes"])
        owner = await service.attach(console)
        await owner.output_until(r"(y\r\n){100}")
        await owner.send(["pause"])
        stopped = await blocked_at(console.pid)
        await owner.send(["resume"])
        await wait_for(lambda: bytes_written(console.pid) > stopped + 1_000_000,
                       message="the program to write again")


@pytest.mark.gen_test(timeout=120)
@pytest.mark.parametrize("transport", ["websocket", "xhr_polling"])
async def test_an_owner_that_stops_reading_blocks_the_program(redis_socket, homes, transport):
    async with ConsoleNode(redis_socket, homes, limits=LIMITS) as service:
        console = await service.start_console(argv=["yes"])
        owner = await service.attach(console, transport=transport)
        await owner.output_until(r"(y\r\n){100}")
        owner.pause_reading()
        stopped = await blocked_at(console.pid)
        owner.resume_reading()
        await wait_for(lambda: bytes_written(console.pid) > stopped + 1_000_000,
                       message="the program to write again")


@pytest.mark.gen_test(timeout=180)
async def test_a_read_only_viewer_that_stops_reading_does_not_stall_the_owner(redis_socket, homes):
    async with ConsoleNode(redis_socket, homes, limits=LIMITS) as service:
        console = await service.start_console(owner="alice", argv=["yes"])
        service.shares[(console.id, "bob")] = "ro"
        owner = await service.attach(console, user="alice")
        viewer = await service.attach(console, user="bob")
        await viewer.until(lambda m: m[0] == "setup")
        viewer.pause_reading()
        # Far more than the viewer's socket buffers and queue cap could absorb.
        received = 0
        while received < 16 * 1024 * 1024:
            message = await owner.next()
            if message[0] == "stdout":
                received += len(message[1])
        owner.received.clear()
        viewer.resume_reading()
        skipped = await viewer.until(lambda m: m[0] == "status" and m[1].get("notice") == "skipped",
                                     timeout=60)
        assert "fell behind" in skipped[1]["message"]
        catch_up = await viewer.until(lambda m: m[0] == "stdout")
        assert catch_up[1].startswith("\x1bc") and "y\r\n" in catch_up[1]
        assert len(catch_up[1].encode()) <= LIMITS.catch_up_bytes + 2


@pytest.mark.gen_test(timeout=60)
async def test_a_paused_read_only_viewer_catches_up_on_resume(redis_socket, homes):
    async with ConsoleNode(redis_socket, homes, limits=LIMITS) as service:
        console = await service.start_console(owner="alice")
        service.shares[(console.id, "bob")] = "ro"
        owner = await service.attach(console, user="alice")
        viewer = await service.attach(console, user="bob")
        await viewer.until(lambda m: m[0] == "setup")
        await viewer.send(["pause"])
        await viewer.send(["stdin", "ignored\n"])  # answered: proves the pause was handled
        await viewer.until(lambda m: m[0] == "status" and m[1].get("notice") == "readonly")
        await owner.type("echo while $((3*3)) paused\n")
        await owner.output_until(r"\rwhile 9 paused\r\n")
        await owner.type("echo after\n")
        await owner.output_until(r"\rafter\r\n")
        assert "while 9 paused" not in viewer.output

        await viewer.send(["resume"])
        await viewer.until(lambda m: m[0] == "status" and m[1].get("notice") == "skipped")
        catch_up = await viewer.until(lambda m: m[0] == "stdout")
        assert catch_up[1].startswith("\x1bc") and "\rwhile 9 paused\r\n" in catch_up[1]
        # Live output flows again afterwards.
        await owner.type("echo live\n")
        await viewer.output_until(r"\rlive\r\n")
