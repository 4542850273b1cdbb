"""What the client processes do besides timing echoes: flood, churn, hold, read, view.

Each function is a job for :class:`bench.workers.Worker`; times are taken
with ``time.monotonic`` (the same clock in every process) or, for fan-out,
against the wall clock bash stamps on each line.  Every loop has a count
or a deadline.
"""
from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from bench.console_client import (
    OUR_KINDS,
    ConsoleStream,
    StreamClosed,
    Target,
    create_console,
    ends_with_prompt,
    open_console,
    open_shared_viewer,
)
from bench.workers import Control

ECHO_TIMEOUT = 30.0
# Opening many consoles at once: how many creations may be in flight.
OPEN_CONCURRENCY = 8
# Closing many at once: how many times to ask again for those the server failed to close.
CLOSE_ROUNDS = 10


async def _output_flowing(stream: ConsoleStream, command: str, at_least: int) -> None:
    await stream.wait_for_prompt()
    await stream.type(command)
    received = 0
    async with asyncio.timeout(60):
        while received < at_least:
            received += len(await stream.output())


async def flood(control: Control, target: Target, account_index: int, consoles: int) -> int:
    """Consoles printing as fast as they can, drained at full speed until stopped.

    Reports ``ready`` once every one is pouring; returns the characters drained.
    """
    streams = [await open_console(target, account_index) for _ in range(consoles)]
    try:
        await asyncio.gather(*(_output_flowing(s, "timeout 600 yes\r", 2**20) for s in streams))
        control.report("ready")
        drains = [asyncio.ensure_future(s.drain()) for s in streams]
        try:
            await asyncio.wait_for(control.stop.wait(), timeout=900)
        finally:
            closes = await asyncio.gather(*(s.close() for s in streams), return_exceptions=True)
            drained = await asyncio.gather(*drains)
        errors = [c for c in closes if isinstance(c, BaseException)]
        if errors:
            raise RuntimeError(f"closing a flooding console failed: {errors[0]!r}")
        return sum(drained)
    except BaseException:
        for stream in streams:
            await stream.detach()
        raise


async def _open_ready(target: Target, account_index: int) -> ConsoleStream:
    stream = await open_console(target, account_index)
    await stream.wait_for_prompt()
    return stream


async def churn(control: Control, target: Target, account_index: int, per_second: float,
                population: int) -> dict[str, int]:
    """Open a console (to its first prompt) and close the oldest, ``per_second`` times a second.

    Runs until stopped; returns how many were opened and closed.
    """
    alive: list[ConsoleStream] = []
    pending: set[asyncio.Task[Any]] = set()
    failures: list[BaseException] = []
    counts = {"opened": 0, "closed": 0}

    async def open_one() -> None:
        alive.append(await _open_ready(target, account_index))
        counts["opened"] += 1

    async def close_one(stream: ConsoleStream) -> None:
        await stream.close()
        counts["closed"] += 1

    def finished(task: asyncio.Task[Any]) -> None:
        pending.discard(task)
        error = None if task.cancelled() else task.exception()
        if error is not None:
            failures.append(error)

    # Start full, so that every tick both opens and closes one.
    await asyncio.gather(*(open_one() for _ in range(population)))
    control.report("ready")
    deadline = time.monotonic() + 900
    next_tick = time.monotonic()
    while not control.stop.is_set() and time.monotonic() < deadline and not failures:
        for coroutine in [open_one()] + ([close_one(alive.pop(0))] if len(alive) >= population else []):
            task = asyncio.ensure_future(coroutine)
            pending.add(task)
            task.add_done_callback(finished)
        next_tick += 1.0 / per_second
        try:
            await asyncio.wait_for(control.stop.wait(), max(0.0, next_tick - time.monotonic()))
        except TimeoutError:
            pass
    await asyncio.wait_for(asyncio.gather(*pending, return_exceptions=True), 120)
    await asyncio.gather(*(s.close() for s in alive))
    if failures:
        raise RuntimeError(f"churn: opening or closing a console failed: {failures[0]!r}")
    return counts


async def spawn_to_prompt(control: Control, target: Target, count: int) -> list[float]:
    """Seconds from asking for a console (POST, or the WebSocket for the peers) to its first prompt."""
    timings = []
    for _ in range(count):
        started = time.monotonic()
        stream = await open_console(target, 0)
        await stream.wait_for_prompt()
        timings.append(time.monotonic() - started)
        await stream.close()
        # Let the server finish closing before the next one is timed.
        await asyncio.sleep(0.3)
    return timings


async def hold(control: Control, target: Target, per_account: int) -> dict[str, Any]:
    """Hold idle consoles, each with a WebSocket: ``("open", n)`` adds n, ``("close", None)`` closes all.

    Every stream is drained in the background so the server never holds
    output for us.  The close asks for all at once; closes the server
    fails are asked for again, all at once, once the others are done, and
    counted.  It reports when it started, when the last close call
    returned, and the failures.
    """
    streams: list[ConsoleStream] = []
    drains: list[asyncio.Future[int]] = []
    gate = asyncio.Semaphore(OPEN_CONCURRENCY)

    async def open_one(index: int) -> None:
        async with gate:
            stream = await _open_ready(target, index // per_account)
        streams.append(stream)
        drains.append(asyncio.ensure_future(stream.drain()))

    try:
        while True:
            tag, payload = await control.command(timeout=3600)
            if tag == "open":
                first = len(streams)
                await asyncio.gather(*(open_one(first + i) for i in range(payload)))
                control.report("held", len(streams))
            elif tag == "close":
                started = time.monotonic()
                failures = await _close_all_at_once(streams)
                finished = time.monotonic()
                streams.clear()
                await asyncio.wait_for(asyncio.gather(*drains), 120)
                return {"started": started, "finished": finished, "failed": len(failures),
                        "first_failure": failures[0] if failures else ""}
            else:
                return {}
    finally:
        for stream in streams:
            await stream.detach()


async def _close_all_at_once(streams: list[ConsoleStream]) -> list[str]:
    """Close every stream at once, asking again for those that failed; returns every failure."""
    failures: list[str] = []
    pending = list(streams)
    for _ in range(CLOSE_ROUNDS):
        outcomes = await asyncio.gather(*(s.close() for s in pending), return_exceptions=True)
        failures += [str(o) for o in outcomes if isinstance(o, Exception)]
        pending = [s for s, o in zip(pending, outcomes, strict=True) if isinstance(o, Exception)]
        if not pending:
            return failures
    raise RuntimeError(f"{len(pending)} consoles were still open after asking {CLOSE_ROUNDS} times; "
                       f"the last failure: {failures[-1]}")


def _bulk_command(source_bytes: int) -> str:
    # The arithmetic keeps the end marker out of the command's own echo.
    return f"head -c {source_bytes} /dev/urandom|base64;echo BULK-$((6*7))-END"


async def bulk(control: Control, target: Target, source_bytes: int) -> dict[str, float]:
    """Base64 of ``source_bytes`` random bytes through the terminal, read at full speed.

    The command is typed first; on ``go`` Enter is pressed and the clock
    runs until the end marker arrives.
    """
    stream = await open_console(target, 0)
    try:
        await stream.wait_for_prompt()
        await stream.type(_bulk_command(source_bytes))
        await stream.read_until(lambda seen: "-END" in seen, ECHO_TIMEOUT)
        control.report("ready")
        await control.command(timeout=600)
        started = time.monotonic()
        await stream.type("\r")
        received, tail = 0, ""
        async with asyncio.timeout(600):
            while True:
                text = await stream.output()
                received += len(text)
                if "BULK-42-END" in tail + text:
                    break
                tail = (tail + text)[-16:]
        return {"seconds": time.monotonic() - started, "characters": received}
    finally:
        await stream.close()


async def slow_reader(control: Control, target: Target, rate: float, seconds: float) -> dict[str, float]:
    """Read a flooding console at ``rate`` characters per second for ``seconds``.

    Pacing happens after each message, so the server sees a reader that
    takes exactly what it can handle and no more.
    """
    stream = await open_console(target, 0)
    try:
        await stream.wait_for_prompt()
        await stream.type("timeout 600 yes")
        await stream.read_until(lambda seen: "yes" in seen, ECHO_TIMEOUT)
        control.report("ready")
        await control.command(timeout=600)
        await stream.type("\r")
        started = time.monotonic()
        received = 0
        while time.monotonic() - started < seconds:
            received += len(await stream.output())
            ahead = started + received / rate - time.monotonic()
            if ahead > 0:
                await asyncio.sleep(min(ahead, started + seconds - time.monotonic()))
        return {"seconds": time.monotonic() - started, "characters": received}
    finally:
        await stream.close(abandon=True)


async def fanout_source(control: Control, target: Target, tag: str, lines: int) -> None:
    """Own the fan-out console: report its id, then on ``go`` start the timestamped lines.

    It reads everything the console prints, like any viewer, and ends with
    the last line.
    """
    if target.kind in OUR_KINDS:
        console_id: str | None = await create_console(target, target.accounts[0])
    else:
        console_id = None
    stream = await open_shared_viewer(target, console_id)
    try:
        # A shared terminal that is already running replays nothing on the floor: ask for a prompt.
        await stream.type("\r")
        await stream.read_until(ends_with_prompt, ECHO_TIMEOUT)
        control.report("ready", console_id)
        await control.command(timeout=600)
        # EPOCHREALTIME is a bash builtin: the stamp is taken as the line is written.
        await stream.type(f"for i in $(seq 0 {lines - 1}); do echo \"{tag} $i $EPOCHREALTIME\"; "
                          "sleep 0.05; done\r")
        last = f"{tag} {lines - 1} "
        await stream.read_until(lambda seen: last in seen[-200:], lines * 0.2 + 60)
    finally:
        if console_id is not None:
            await stream.close()
        else:
            await stream.detach()


async def collect_lines(stream: ConsoleStream, pattern: re.Pattern[str], lines: int,
                latencies: list[float], seen: set[int]) -> None:
    """Collect one viewer's delivery latencies into ``latencies`` and the line numbers into ``seen``."""
    partial = ""
    try:
        while len(seen) < lines:
            text = partial + await stream.output()
            arrived = time.time()
            *complete, partial = text.split("\n")
            for line in complete:
                match = pattern.search(line)
                if match and int(match.group(1)) not in seen:
                    seen.add(int(match.group(1)))
                    latencies.append(arrived - float(match.group(2)))
    except StreamClosed:
        return


async def fanout_viewers(control: Control, target: Target, console_id: str | None, viewers: int,
                         tag: str, lines: int) -> dict[str, Any]:
    """``viewers`` WebSockets on the fan-out console, each timing every line it receives.

    Reports ``ready`` when all are attached, then collects lines until every
    viewer has them all or a stop comes; returns every latency (seconds) and
    each viewer's count of lines seen.
    """
    gate = asyncio.Semaphore(OPEN_CONCURRENCY * 4)

    async def connect() -> ConsoleStream:
        async with gate:
            return await open_shared_viewer(target, console_id)

    streams = await asyncio.gather(*(connect() for _ in range(viewers)))
    # A line may follow escape codes and a carriage return (bash's bracketed-paste switch).
    pattern = re.compile(rf"(?:^|\r){tag} (\d+) (\d+\.\d+)\r?$")
    latencies: list[float] = []
    seen: list[set[int]] = [set() for _ in streams]
    views = asyncio.gather(*(collect_lines(s, pattern, lines, latencies, mine)
                             for s, mine in zip(streams, seen, strict=True)))
    stop = asyncio.ensure_future(control.stop.wait())
    waiting: list[asyncio.Future[Any]] = [views, stop]
    try:
        control.report("ready")
        await asyncio.wait(waiting, timeout=600 + lines * 0.2, return_when=asyncio.FIRST_COMPLETED)
    finally:
        views.cancel()
        stop.cancel()
        await asyncio.gather(*(s.detach() for s in streams), return_exceptions=True)
    return {"latencies": latencies, "counts": [len(mine) for mine in seen]}
