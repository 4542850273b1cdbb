"""The client side of a console stream, the same for every server.

Our service and terminado speak terminado's JSON arrays (one per WebSocket
message); the floor sends raw PTY bytes as binary messages and takes raw
text.  :class:`ConsoleStream` hides the difference so that every
measurement runs the same code against each server.
"""
from __future__ import annotations

import asyncio
import codecs
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

import websockets
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

OURS, BASELINE, TERMINADO, FLOOR = "ours", "baseline", "terminado", "floor"
KINDS = (OURS, BASELINE, TERMINADO, FLOOR)
# Ours from this tree, and ours from another checkout (bench_consoles.py --baseline-tree): one protocol.
OUR_KINDS = (OURS, BASELINE)

# CSI and OSC sequences, and two-character escapes: what bash adds around its prompt.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
_PROMPT_END = ("# ", "$ ")
_MAX_MESSAGE = 16 * 2**20
ATTACH_TIMEOUT = 60.0
# API calls one client process may have in flight: enough to close every held console at once.
API_CONCURRENCY = 256


class StreamClosed(Exception):
    """The server ended the stream (the console closed, or it refused us)."""


@dataclass(frozen=True)
class Account:
    """An account on our service and its API token."""

    name: str
    token: str


@dataclass(frozen=True)
class Target:
    """How a client reaches one server; picklable, so client processes get it as an argument."""

    kind: str
    port: int
    accounts: tuple[Account, ...] = ()

    def url(self, scheme: str, path: str) -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"


def strip_escapes(text: str) -> str:
    return _ESCAPES.sub("", text)


def ends_with_prompt(text: str) -> bool:
    """True once bash has printed a prompt and is waiting for input."""
    return strip_escapes(text[-200:]).endswith(_PROMPT_END)


class ConsoleStream:
    """One WebSocket attached to one console: type into it, read its output, close it."""

    def __init__(self, target: Target, socket: websockets.ClientConnection,
                 console_id: str | None = None, account: Account | None = None) -> None:
        self.target = target
        self.socket = socket
        self.console_id = console_id
        self.account = account
        self._raw = target.kind == FLOOR
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    async def attached(self) -> ConsoleStream:
        """Wait for the server's ``setup`` message, sent once the stream is attached to its console.

        Our service authorizes a WebSocket after it opens, so output sent
        before ``setup`` is not yet this stream's.  The floor attaches as the
        socket opens and sends no ``setup``.
        """
        if self._raw:
            return self
        try:
            message = await asyncio.wait_for(self.socket.recv(), ATTACH_TIMEOUT)
        except websockets.ConnectionClosed as exc:
            raise StreamClosed(f"the WebSocket closed before attaching ({exc})") from None
        kind, *rest = json.loads(message)
        if kind == "disconnect":
            raise StreamClosed(f"refused: {rest[0] if rest else ''}")
        if kind != "setup":
            raise RuntimeError(f"expected the setup message first, got {message[:200]!r}")
        return self

    async def type(self, text: str) -> None:
        await self.socket.send(text if self._raw else json.dumps(["stdin", text]))

    async def output(self) -> str:
        """The next piece of terminal output; other messages (setup, status) are skipped."""
        while True:
            try:
                message = await self.socket.recv()
            except websockets.ConnectionClosed as exc:
                raise StreamClosed(f"the WebSocket closed ({exc})") from None
            if self._raw:
                assert isinstance(message, bytes)
                return self._decoder.decode(message)
            kind, *rest = json.loads(message)
            if kind == "stdout":
                return str(rest[0])
            if kind == "disconnect":
                raise StreamClosed(f"disconnected: {rest[0] if rest else ''}")

    async def read_until(self, done: Callable[[str], bool], timeout: float) -> str:
        """Output up to the point where ``done(everything so far)`` holds."""
        seen = ""
        async with asyncio.timeout(timeout):
            while not done(seen):
                seen += await self.output()
        return seen

    async def wait_for_prompt(self, timeout: float = 30.0) -> str:
        return await self.read_until(ends_with_prompt, timeout)

    async def drain(self) -> int:
        """Read and discard output until the stream ends; returns the characters read."""
        total = 0
        try:
            while True:
                total += len(await self.output())
        except StreamClosed:
            return total

    async def close(self, abandon: bool = False) -> None:
        """End the console: DELETE on our service; closing the socket ends the others'.

        ``abandon`` drops the connection without the closing handshake, for a
        server that still has a backlog of output queued for us to wade through.
        """
        if self.target.kind in OUR_KINDS and self.console_id is not None and self.account is not None:
            await api_request(self.target, self.account, "DELETE",
                              f"/consoles/{self.console_id}/", expect=204)
        if abandon:
            self.socket.transport.abort()
        else:
            await self.socket.close()

    async def detach(self) -> None:
        """Close only this WebSocket; a shared console goes on for its other viewers."""
        await self.socket.close()


async def api_request(target: Target, account: Account, method: str, path: str,
                      body: dict[str, object] | None = None, expect: int = 200) -> dict[str, object]:
    """One call to our API v0 as ``account``; raises with the server's answer on a wrong status."""
    client = AsyncHTTPClient(max_clients=API_CONCURRENCY)
    request = HTTPRequest(
        target.url("http", f"/api/v0/user/{account.name}{path}"), method=method,
        headers={"Authorization": f"Token {account.token}", "Content-Type": "application/json"},
        body=None if body is None else json.dumps(body), connect_timeout=300, request_timeout=300)
    try:
        response = await client.fetch(request, raise_error=False)
    except OSError as exc:
        raise RuntimeError(f"{method} {request.url} failed: {exc}") from None
    if response.code != expect:
        text = response.body.decode(errors="replace")[:300] if response.body else str(response.error)
        raise RuntimeError(f"{method} {request.url} answered {response.code}, expected {expect}: {text}")
    return json.loads(response.body) if response.body else {}


async def _connect(target: Target, path: str, account: Account | None) -> websockets.ClientConnection:
    headers = {"Authorization": f"Token {account.token}"} if account is not None else None
    return await websockets.connect(
        target.url("ws", path), additional_headers=headers, compression=None,
        max_size=_MAX_MESSAGE, ping_interval=None, open_timeout=60, close_timeout=30)


async def create_console(target: Target, account: Account) -> str:
    """Start a bash console on our service; returns its id."""
    created = await api_request(target, account, "POST", "/consoles/",
                                {"executable": "bash", "arguments": []}, expect=201)
    return str(created["id"])


async def attach(target: Target, console_id: str, account: Account) -> ConsoleStream:
    """A WebSocket to an existing console of ours (as the owner: many may attach)."""
    socket = await _connect(target, f"/consoles/sockjs/websocket?id={console_id}", account)
    return await ConsoleStream(target, socket, console_id, account).attached()


async def open_console(target: Target, account_index: int = 0) -> ConsoleStream:
    """A new bash console with one WebSocket attached, the way each server makes one."""
    if target.kind in OUR_KINDS:
        account = target.accounts[account_index % len(target.accounts)]
        return await attach(target, await create_console(target, account), account)
    return await ConsoleStream(target, await _connect(target, "/unique", None)).attached()


async def open_shared_viewer(target: Target, console_id: str | None) -> ConsoleStream:
    """One more viewer of the console that fan-out uses (ours: ``console_id``; else ``/shared``)."""
    if target.kind in OUR_KINDS:
        assert console_id is not None
        return await attach(target, console_id, target.accounts[0])
    return await ConsoleStream(target, await _connect(target, "/shared", None)).attached()
