"""The client side of the restart benchmark: many consoles, and when a new server has them all back.

One job process owns every console of the run.  It opens them through the
API, each printing a marker (a few keep printing), and on ``check`` finds
out, for every console, when the server listed it running and when a
WebSocket attach got its ``setup`` message and a replay that holds the
marker: the moment a user's page would be back as it was.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import websockets

from bench.console_client import (
    Account,
    ConsoleStream,
    StreamClosed,
    Target,
    api_request,
    attach,
    create_console,
)
from bench.workers import Control

# The consoles print the product, so the marker is in their output and never in the typed command.
MARKER = "R42"
QUIET_COMMAND = "echo R$((6*7))\r"
PRINTING_COMMAND = "while :; do echo \"tick $((i++)) R$((6*7))\"; sleep 0.1; done\r"
OPEN_CONCURRENCY = 16
POLL_SECONDS = 0.02
CHECK_TIMEOUT = 120.0
REPLAY_TIMEOUT = 30.0


@dataclass(frozen=True)
class HeldConsole:
    account: Account
    console_id: str


async def _send(target: Target, console: HeldConsole, text: str) -> None:
    await api_request(target, console.account, "POST", f"/consoles/{console.console_id}/send_input/",
                      {"input": text})


async def open_consoles(target: Target, count: int, printing: int, per_account: int) -> list[HeldConsole]:
    """``count`` bash consoles spread over the accounts, the first ``printing`` printing forever."""
    gate = asyncio.Semaphore(OPEN_CONCURRENCY)

    async def open_one(index: int) -> HeldConsole:
        account = target.accounts[index // per_account]
        async with gate:
            console = HeldConsole(account, await create_console(target, account))
            await _send(target, console, PRINTING_COMMAND if index < printing else QUIET_COMMAND)
        return console

    return list(await asyncio.gather(*(open_one(index) for index in range(count))))


async def _listed_running(target: Target, consoles: list[HeldConsole], seen: dict[str, float]) -> None:
    """Poll each account's console list until every console of the run is listed running."""
    wanted = {console.console_id for console in consoles}

    async def poll(account: Account) -> None:
        mine = {c.console_id for c in consoles if c.account == account}
        while not mine <= seen.keys():
            try:
                answer: Any = await api_request(target, account, "GET", "/consoles/")
            except RuntimeError:
                answer = []
            now = time.monotonic()
            listed: list[dict[str, Any]] = answer if isinstance(answer, list) else []
            for entry in listed:
                if entry["id"] in wanted and entry["status"] == "running":
                    seen.setdefault(entry["id"], now)
            if not mine <= seen.keys():
                await asyncio.sleep(POLL_SECONDS)

    await asyncio.gather(*(poll(account) for account in {c.account for c in consoles}))


async def _replayed(target: Target, console: HeldConsole) -> tuple[float, ConsoleStream]:
    """Attach (again and again until the server takes it) until the replay holds the marker."""
    while True:
        try:
            stream = await attach(target, console.console_id, console.account)
        except (TimeoutError, OSError, StreamClosed, RuntimeError, websockets.WebSocketException):
            await asyncio.sleep(POLL_SECONDS)
            continue
        try:
            await stream.read_until(lambda seen: MARKER in seen, REPLAY_TIMEOUT)
        except StreamClosed:
            await stream.detach()
            await asyncio.sleep(POLL_SECONDS)
            continue
        return time.monotonic(), stream


async def check(target: Target, consoles: list[HeldConsole]) -> dict[str, Any]:
    """When each console was listed running and replayed on attach (monotonic seconds, this machine's clock)."""
    listed: dict[str, float] = {}
    async with asyncio.timeout(CHECK_TIMEOUT):
        listing = asyncio.ensure_future(_listed_running(target, consoles, listed))
        attached = await asyncio.gather(*(_replayed(target, console) for console in consoles))
        await listing
    for _, stream in attached:
        await stream.detach()
    return {"ready": [max(listed[console.console_id], at) for console, (at, _) in zip(consoles, attached,
                                                                                       strict=True)],
            "listed": max(listed.values()), "attached": max(at for at, _ in attached)}


async def restart_client(control: Control, target: Target, count: int, printing: int,
                         per_account: int) -> None:
    """Open the consoles, report ``opened``; then ``("check", port)`` → ``checked`` with the times."""
    consoles = await open_consoles(target, count, printing, per_account)
    control.report("opened", [console.console_id for console in consoles])
    while True:
        tag, payload = await control.command(timeout=3600)
        if tag != "check":
            return
        port = int(payload)
        target = Target(target.kind, port, target.accounts)
        control.report("checked", await check(target, consoles))
