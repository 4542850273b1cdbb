"""Forwarding a visitor's request to a web app's Unix socket, streamed both ways.

Tornado's HTTP/1.1 connection does the HTTP on a stream of our own to the
app's socket, so nothing here parses HTTP by hand.  An app server that keeps
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

from tornado.http1connection import HTTP1Connection, HTTP1ConnectionParameters
from tornado.httputil import (
    HTTPHeaders,
    HTTPInputError,
    HTTPMessageDelegate,
    RequestStartLine,
    ResponseStartLine,
)
from tornado.iostream import IOStream, StreamClosedError

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
_PARAMETERS = HTTP1ConnectionParameters(max_body_size=1 << 40, chunk_size=64 * 1024, decompress=False)


class Upstream(HTTPMessageDelegate):
    """The answer as it arrives: status and headers once, then body pieces."""

    def __init__(self, on_head: Callable[[ResponseStartLine, HTTPHeaders], None],
                 on_chunk: Callable[[bytes], Future[None]]) -> None:
        self._on_head = on_head
        self._on_chunk = on_chunk
        self.head_sent = False
        self.reusable = False

    def headers_received(self, start_line: RequestStartLine | ResponseStartLine, headers: HTTPHeaders) -> None:
        assert isinstance(start_line, ResponseStartLine)
        if start_line.code < 200:
            return  # an interim answer; the real one follows
        self.head_sent = True
        self.reusable = (start_line.version == "HTTP/1.1" and "close" not in headers.get("Connection", "").lower()
                         and ("Content-Length" in headers or "chunked" in headers.get("Transfer-Encoding", "")
                              or start_line.code in (204, 304)))
        self._on_head(start_line, headers)

    def data_received(self, chunk: bytes) -> Awaitable[None]:
        """The connection waits for the Future this returns before it reads on: a slow
        visitor slows the app's answer down instead of filling the server's memory."""
        return self._on_chunk(chunk)


class AppProxy:
    """One for every app on this node, with the idle connections to each app's socket."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._idle: dict[str, list[tuple[IOStream, float]]] = {}

    def close(self) -> None:
        for kept in self._idle.values():
            for stream, _ in kept:
                stream.close()
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
                stream = self._take(path)
                reused = stream is not None
                broke = await self._exchange(stream, path, method, uri, headers, body, upstream)
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

    async def _exchange(self, stream: IOStream | None, path: str, method: str, uri: str,
                        headers: HTTPHeaders, body: asyncio.Queue[bytes | None] | None,
                        upstream: Upstream) -> bool:
        """One request on ``stream`` (a new connection when None); whether it broke off."""
        try:
            if stream is None:
                stream = await _connect(path)
            connection = HTTP1Connection(stream, True, _PARAMETERS)
            connection.write_headers(RequestStartLine(method, uri, "HTTP/1.1"), headers)
            if body is not None:
                while (chunk := await body.get()) is not None:
                    await connection.write(chunk)
            connection.finish()
            await connection.read_response(upstream)
        except (StreamClosedError, HTTPInputError, OSError):
            if stream is not None:
                stream.close()
            return True
        except BaseException:
            if stream is not None:
                stream.close()
            raise
        if stream.closed() or not upstream.reusable:
            stream.close()
            return stream.error is not None or not upstream.head_sent
        self._keep(path, stream)
        return False

    def _take(self, path: str) -> IOStream | None:
        kept = self._idle.get(path)
        now = time.monotonic()
        while kept:
            stream, since = kept.pop()
            stream.set_close_callback(None)
            if now - since < IDLE_REUSE and not stream.closed():
                return stream
            stream.close()
        return None

    def _keep(self, path: str, stream: IOStream) -> None:
        kept = self._idle.setdefault(path, [])
        if len(kept) >= IDLE_KEPT:
            stream.close()
            return
        kept.append((stream, time.monotonic()))
        stream.set_close_callback(lambda: self._drop(path, stream))

    def _drop(self, path: str, stream: IOStream) -> None:
        kept = self._idle.get(path, [])
        self._idle[path] = [(other, since) for other, since in kept if other is not stream]
        if not self._idle[path]:
            del self._idle[path]


async def _connect(path: str) -> IOStream:
    """A new connection to an app's socket.  A Unix socket accepts at once unless its
    backlog is full: only then does the stream wait for it (saving a trip through the
    IOLoop on every other connection)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        sock.connect(path)
    except BlockingIOError:
        stream = IOStream(sock, max_buffer_size=1 << 20)
        await stream.connect(path)
        return stream
    except BaseException:
        sock.close()
        raise
    return IOStream(sock, max_buffer_size=1 << 20)


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

