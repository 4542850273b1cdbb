"""Keystroke echo latency: one key at a time, each timed until the terminal echoes it.

The console runs ``cat >/dev/null``, so the echo comes from the terminal
itself and nothing else prints.  One key is in flight at a time, so a
stall shows as one slow key; keys are spaced 4–16 ms apart, so a stall
that recurs every half second (console churn) lands on about one key in
forty, well inside p99.

One key at a time also keeps Nagle's algorithm out of the figure:
terminado never sets TCP_NODELAY, and keys typed faster than their
echoes return can find its echoes held until the next key arrives.
"""
from __future__ import annotations

import asyncio
import random
import time

from bench.console_client import ConsoleStream, Target, open_console, strip_escapes
from bench.workers import Control

KEYS = "abcdefghijklmnopqrstuvwxyz"
# Digits sync the probe with the terminal when cat starts; they are never timed.
SYNC_KEYS = "0123456789"
# Enter every so many keys keeps cat's line short (cat discards it; the echo is "\r\n").
KEYS_PER_LINE = 32
GAP_SECONDS = (0.004, 0.016)
ECHO_TIMEOUT = 300.0


async def _start_cat(stream: ConsoleStream) -> None:
    """Run ``cat >/dev/null``, then type digits until one is echoed.

    Bash leaves raw mode only after echoing Enter, so a key typed at once
    may go unechoed; a late echo of an earlier digit does not match the
    digit being waited for.  Escape codes are left out of the match: bash's
    ``ESC[?2004l`` has digits in it.
    """
    await stream.wait_for_prompt()
    await stream.type("cat >/dev/null\r")
    await stream.read_until(lambda seen: "null\r\n" in seen, 30)
    for attempt in range(40):
        digit = SYNC_KEYS[attempt % len(SYNC_KEYS)]
        await stream.type(digit)
        try:
            await stream.read_until(lambda seen, digit=digit: digit in strip_escapes(seen), 0.5)
            break
        except TimeoutError:
            continue
    else:
        raise RuntimeError("cat never echoed a keystroke")
    await _new_line(stream)


async def _new_line(stream: ConsoleStream) -> None:
    await stream.type("\r")
    await stream.read_until(lambda seen: "\n" in seen, ECHO_TIMEOUT)


async def _echo_seconds(stream: ConsoleStream, key: str) -> float:
    started = time.monotonic()
    await stream.type(key)
    await stream.read_until(lambda seen: key in strip_escapes(seen), ECHO_TIMEOUT)
    return time.monotonic() - started


async def echo_probe(control: Control, target: Target, account_index: int) -> None:
    """Keep one console running ``cat``; on ``("measure", (count, seconds))`` time echoes.

    Measuring ends after ``count`` keys, ``seconds``, or a stop; the
    samples go to the main process as (sent at, latency) pairs.
    ``("quit", None)`` closes the console.
    """
    stream = await open_console(target, account_index)
    await _start_cat(stream)
    control.report("ready")
    # Irregular gaps, so that nothing periodic on the server lines up with the keys.
    rng = random.Random(7)
    try:
        while True:
            tag, payload = await control.command(timeout=3600)
            if tag == "quit":
                return
            count, seconds = payload
            control.stop.clear()
            deadline = time.monotonic() + seconds
            samples: list[tuple[float, float]] = []
            while len(samples) < count and not control.stop.is_set() and time.monotonic() < deadline:
                sent_at = time.monotonic()
                samples.append((sent_at, await _echo_seconds(stream, KEYS[len(samples) % len(KEYS)])))
                if len(samples) % KEYS_PER_LINE == 0:
                    await _new_line(stream)
                await asyncio.sleep(rng.uniform(*GAP_SECONDS))
            control.report("samples", samples)
    finally:
        await stream.close()
