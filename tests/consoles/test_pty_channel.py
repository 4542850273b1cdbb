"""The PTY channel on its own: bulk output read in bursts, held back on demand, input queued."""
from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from consoles import InputBufferFull
from consoles.pty_channel import MAX_PENDING_INPUT, READ_BUDGET, PtyChannel
from sandbox import Sandbox
from tests.consoles.node import wait_for

# Multibyte characters in odd-sized writes: reads and bursts split them anywhere.
_PRINT_EUROS = ("import sys\n"
                "for i in range({count}):\n"
                "    sys.stdout.buffer.write(('%07d' % i + '€' * 330 + '\\n').encode())\n"
                "sys.stdout.flush()\n")


class Collector:
    """What the channel hands on: pieces as they are read, grouped in bursts (one per wakeup)."""

    def __init__(self) -> None:
        self.bursts: list[str] = []
        self._pieces: list[str] = []
        self.ended = False

    def piece(self, text: str) -> None:
        assert text and not self.ended
        self._pieces.append(text)

    def burst(self) -> None:
        if self._pieces:
            self.bursts.append("".join(self._pieces))
            self._pieces = []

    def eof(self) -> None:
        assert not self._pieces, "output handed on without the end of its burst"
        self.ended = True

    @property
    def text(self) -> str:
        return "".join(self.bursts)


@asynccontextmanager
async def running(homes: Path, *argv: str) -> AsyncIterator[tuple[PtyChannel, Collector]]:
    """``argv`` on a PTY with a channel (not started) collecting its output; killed afterwards."""
    sandbox = Sandbox(homes)
    identity = sandbox.identity("alice", "free")
    process = await sandbox.spawn(identity, argv, identity.visible_home)
    collector = Collector()
    try:
        yield PtyChannel(process, collector.piece, collector.burst, collector.eof), collector
    finally:
        process.kill()
        await wait_for(lambda: process.poll() is not None)
        process.release()
        await sandbox.close()  # the node's holder, left with nothing to keep, exits


def _expected_euros(count: int) -> str:
    return "".join(f"{i:07d}" + "€" * 330 + "\r\n" for i in range(count))


@pytest.mark.gen_test(timeout=60)
async def test_bulk_output_arrives_whole_in_bounded_pieces(homes):
    count = 3000  # about 3 MB
    async with running(homes, "python3", "-c", _PRINT_EUROS.format(count=count)) as (channel, collector):
        channel.start()
        await wait_for(lambda: collector.ended, timeout=50, message="end of file")
        assert collector.text == _expected_euros(count)
        assert "\ufffd" not in collector.text
        # One wakeup's reads stop at the budget (plus at most one read past it).
        assert max(len(piece.encode()) for piece in collector.bursts) < 2 * READ_BUDGET
        assert not channel.open


@pytest.mark.gen_test(timeout=60)
async def test_held_output_is_not_read_until_released(homes):
    count = 2000
    async with running(homes, "python3", "-c", _PRINT_EUROS.format(count=count)) as (channel, collector):
        channel.hold(True)
        channel.start()
        await asyncio.sleep(0.5)
        assert collector.bursts == []  # the program is blocked writing to its terminal
        channel.hold(False)
        await wait_for(lambda: collector.ended, timeout=50, message="end of file")
        assert collector.text == _expected_euros(count)


@pytest.mark.gen_test(timeout=60)
async def test_input_for_a_program_that_does_not_read_is_bounded(homes):
    async with running(homes, "sleep", "60") as (channel, _):
        channel.start()
        with pytest.raises(InputBufferFull, match="not reading its input"):
            for _ in range(MAX_PENDING_INPUT // 1000 + 100):
                channel.write("x" * 999 + "\n")
        channel.stop()
        assert not channel.open


@pytest.mark.gen_test(timeout=60)
async def test_a_small_read_ends_the_wakeup_without_asking_the_empty_terminal_again(homes, monkeypatch):
    reads: list[str] = []  # one entry per call, empty ones included
    real_read = os.read

    def counting_read(fd: int, size: int) -> bytes:
        reads.append("called")
        data = real_read(fd, size)
        reads[-1] = data.decode()
        return data

    async with running(homes, "cat") as (channel, collector):
        channel.start()
        monkeypatch.setattr("consoles.pty_channel.os.read", counting_read)
        for key in "abc":
            reads.clear()
            before = len(collector.bursts)
            channel.write(key)
            await wait_for(lambda before=before: len(collector.bursts) > before, message=f"the echo of {key}")
            assert collector.bursts[-1] == key
            assert reads == [key]  # one read per echo: no second read of the emptied terminal
        channel.stop()
