"""Forwarding a visitor's request to a web app's Unix socket, streamed both ways.

Each request goes over an ``AppConnection`` (``app_connection.py``) to the
app's socket.  An app server that keeps
connections open (HTTP/1.1 keep-alive) gets its connection back for the
next request to the same socket: connecting costs the front more than the
request itself.  A connection is only ever reused for the socket it was
opened to, so no app ever sees another's traffic.
"""
from __future__ import annotations

import asyncio
import socket
import time
from asyncio import Future
from collections.abc import Awaitable, Callable
from pathlib import Path

from tornado.httputil import HTTPHeaders, ResponseStartLine

from ide.webapps.app_connection import AppConnection, ConnectionLost

MAX_BODY = 100 * 1024 * 1024
"""A web app's request bodies, streamed (the IDE's own routes take far less)."""
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
               "transfer-encoding", "upgrade", "proxy-connection"}
QUEUE_SIZE = 4
"""Body chunks a visitor may send ahead of the app reading them (Tornado then stops reading)."""
IDLE_KEPT = 8
"""Idle connections kept per app socket."""
IDLE_REUSE = 1.0
"""Seconds an idle connection is reused for at most: app servers close theirs after a
while (gunicorn: 2 s), and one closing just as a request goes out would fail it."""


class Upstream:
    """The answer as it arrives: status and headers once, then body pieces."""

    def __init__(self, on_head: Callable[[ResponseStartLine, HTTPHeaders], None],
                 on_chunk: Callable[[bytes], Future[None]]) -> None:
        self._on_head = on_head
        self._on_chunk = on_chunk
        self.head_sent = False

    def head(self, start: ResponseStartLine, headers: HTTPHeaders) -> None:
        self.head_sent = True
        self._on_head(start, headers)

    def chunk(self, piece: bytes) -> Awaitable[None]:
        """The connection waits for the Future this returns before it reads on: a slow
        visitor slows the app's answer down instead of filling the server's memory."""
        return self._on_chunk(piece)


class AppProxy:
    """One for every app on this node, with the idle connections to each app's socket."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._idle: dict[str, list[tuple[AppConnection, float]]] = {}

    def close(self) -> None:
        for kept in self._idle.values():
            for connection, _ in kept:
                connection.close()
        self._idle.clear()

    async def forward(self, socket_path: Path, method: str, uri: str, headers: HTTPHeaders,
                      body: asyncio.Queue[bytes | None] | None, upstream: Upstream) -> int | None:
        """Send the request; the answer goes to ``upstream``.

        Returns None when the app answered, 504 when it did not in time and
        502 when it could not be reached or broke off (only if nothing was
        sent to the visitor yet; else the caller just ends the answer).
        """
        path = str(socket_path)
        task = asyncio.current_task()
        assert task is not None
        expired = False

        def expire() -> None:
            nonlocal expired
            expired = True
            task.cancel()

        timer = asyncio.get_running_loop().call_later(self.timeout, expire)
        try:
            while True:
                connection = self._take(path)
                reused = connection is not None
                broke = await self._exchange(connection, path, method, uri, headers, body, upstream)
                # An idle connection the app closed just now: the request never reached it; a new one.
                if not (broke and reused and body is None and not upstream.head_sent):
                    return 502 if broke and not upstream.head_sent else None
        except asyncio.CancelledError:
            if not expired:
                raise
            task.uncancel()
            return None if upstream.head_sent else 504
        finally:
            timer.cancel()

    async def _exchange(self, connection: AppConnection | None, path: str, method: str, uri: str,
                        headers: HTTPHeaders, body: asyncio.Queue[bytes | None] | None,
                        upstream: Upstream) -> bool:
        """One request on ``connection`` (a new one when None); whether it broke off."""
        try:
            if connection is None:
                connection = await _connect(path)
            chunked = connection.send(method, uri, headers, upstream, body is not None)
            if body is not None:
                # Read to the end even when the app stopped taking it: the visitor's side waits.
                while (piece := await body.get()) is not None:
                    await connection.send_body(piece, chunked)
                connection.end_body(chunked)
            reusable = await connection.answered()
        except (ConnectionLost, OSError):
            if connection is not None:
                connection.close()
            return True
        except BaseException:
            if connection is not None:
                connection.close()
            raise
        if reusable:
            self._keep(path, connection)
        else:
            connection.close()
        return False

    def _take(self, path: str) -> AppConnection | None:
        kept = self._idle.get(path)
        now = time.monotonic()
        while kept:
            connection, since = kept.pop()
            connection.on_close = None
            if now - since < IDLE_REUSE and not connection.closed:
                return connection
            connection.close()
        return None

    def _keep(self, path: str, connection: AppConnection) -> None:
        kept = self._idle.setdefault(path, [])
        if len(kept) >= IDLE_KEPT:
            connection.close()
            return
        kept.append((connection, time.monotonic()))
        connection.on_close = lambda closed: self._drop(path, closed)

    def _drop(self, path: str, connection: AppConnection) -> None:
        kept = [(other, since) for other, since in self._idle.get(path, []) if other is not connection]
        if kept:
            self._idle[path] = kept
        else:
            self._idle.pop(path, None)


async def _connect(path: str) -> AppConnection:
    """A new connection to an app's socket.  A Unix socket accepts at once unless its
    backlog is full: only then is there anything to wait for."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        try:
            sock.connect(path)
        except BlockingIOError:
            await loop.sock_connect(sock, path)
        _, connection = await loop.create_unix_connection(AppConnection, sock=sock)
    except BaseException:
        sock.close()
        raise
    return connection


def forwarded_headers(incoming: HTTPHeaders, remote_ip: str, protocol: str, trusted_chain: bool) -> HTTPHeaders:
    """The request's headers for the app: hop-by-hop ones dropped, X-Forwarded-* set.

    ``trusted_chain``: behind a trusted proxy the incoming X-Forwarded-For is
    kept and extended; otherwise a visitor's own value is replaced.
    """
    headers = HTTPHeaders()
    connection_named = {name.strip().lower() for name in incoming.get("Connection", "").split(",")}
    for name, value in incoming.get_all():
        lowered = name.lower()
        if lowered in _HOP_BY_HOP or lowered in connection_named or lowered.startswith("x-forwarded-"):
            continue
        headers.add(name, value)
    chain = incoming.get("X-Forwarded-For", "") if trusted_chain else ""
    headers["X-Forwarded-For"] = f"{chain}, {remote_ip}" if chain else remote_ip
    headers["X-Forwarded-Proto"] = protocol
    headers["X-Forwarded-Host"] = incoming.get("Host", "")
    return headers


def answer_headers(headers: HTTPHeaders) -> list[tuple[str, str]]:
    """The app's answer headers to pass on (Tornado frames the body itself)."""
    connection_named = {name.strip().lower() for name in headers.get("Connection", "").split(",")}
    return [(name, value) for name, value in headers.get_all()
            if name.lower() not in _HOP_BY_HOP and name.lower() not in connection_named]

