"""Forwarding a visitor's request to a web app's Unix socket, streamed both ways.

Tornado's own HTTP client does the HTTP; a resolver of ours hands it the
app's socket instead of a TCP address, so nothing here parses HTTP by hand.
"""
from __future__ import annotations

import asyncio
import socket
from asyncio import Future
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from tornado.httpclient import HTTPClientError, HTTPRequest, HTTPResponse
from tornado.httputil import HTTPHeaders, ResponseStartLine, parse_response_start_line
from tornado.netutil import Resolver
from tornado.simple_httpclient import HTTPTimeoutError, SimpleAsyncHTTPClient

MAX_BODY = 100 * 1024 * 1024
"""A web app's request bodies, streamed (the IDE's own routes take far less)."""
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
               "transfer-encoding", "upgrade", "proxy-connection"}
QUEUE_SIZE = 4
"""Body chunks a visitor may send ahead of the app reading them (Tornado then stops reading)."""


class _SocketResolver(Resolver):
    """Resolves the made-up host ``app-<n>.socket`` to the Unix socket registered for it."""

    def initialize(self) -> None:
        self.sockets: dict[str, str] = {}

    async def resolve(self, host: str, port: int, family: socket.AddressFamily = socket.AF_UNSPEC
                      ) -> list[tuple[int, Any]]:
        path = self.sockets.get(host)
        if path is None:
            raise OSError(f"no socket for {host}")
        return [(socket.AF_UNIX, path)]

    def close(self) -> None:
        self.sockets.clear()


class Upstream:
    """The answer as it arrives: status and headers once, then body pieces."""

    def __init__(self, on_head: Callable[[ResponseStartLine, HTTPHeaders], None],
                 on_chunk: Callable[[bytes], Future[None]]) -> None:
        self._on_head = on_head
        self._on_chunk = on_chunk
        self._start: ResponseStartLine | None = None
        self._headers = HTTPHeaders()
        self.head_sent = False

    def header_line(self, line: str) -> None:
        if line.startswith("HTTP/"):
            self._start = parse_response_start_line(line.strip())
            self._headers = HTTPHeaders()
        elif line.strip():
            self._headers.parse_line(line.rstrip("\r\n"))
        elif self._start is not None and self._start.code >= 200:
            self.head_sent = True
            self._on_head(self._start, self._headers)

    def chunk(self, data: bytes) -> Future[None]:
        """Tornado's client waits for the Future this returns before it reads on: a slow
        visitor slows the app's answer down instead of filling the server's memory."""
        return self._on_chunk(data)


class AppProxy:
    """One HTTP client for every app on this node (connections are not kept: each request is its own)."""

    def __init__(self, timeout: float) -> None:
        self._resolver = _SocketResolver()
        self._client = SimpleAsyncHTTPClient(force_instance=True, max_clients=1000, resolver=self._resolver,
                                             max_body_size=1 << 40, max_buffer_size=1 << 20)
        self.timeout = timeout

    def close(self) -> None:
        self._client.close()

    async def forward(self, socket_path: Path, app_id: int, method: str, uri: str, headers: HTTPHeaders,
                      body: asyncio.Queue[bytes | None] | None, upstream: Upstream) -> int | None:
        """Send the request; the answer goes to ``upstream``.

        Returns None when the app answered, 504 when it did not in time and
        502 when it could not be reached or broke off (only if nothing was
        sent to the visitor yet; else the caller just ends the answer).
        """
        host = f"app-{app_id}.socket"
        self._resolver.sockets[host] = str(socket_path)
        producer = _producer(body) if body is not None else None
        request = HTTPRequest(
            f"http://{host}{uri}", method=method, headers=headers, body_producer=producer,
            allow_nonstandard_methods=True, follow_redirects=False, decompress_response=False,
            connect_timeout=self.timeout, request_timeout=self.timeout,
            header_callback=upstream.header_line, streaming_callback=cast(Callable[[bytes], None], upstream.chunk))
        try:
            response: HTTPResponse = await self._client.fetch(request, raise_error=False)
        except HTTPClientError as exc:  # raise_error=False still raises for a few cases
            return 504 if isinstance(exc, HTTPTimeoutError) else 502
        except OSError:
            return 502
        if response.error is not None and not upstream.head_sent:
            return 504 if isinstance(response.error, HTTPTimeoutError) else 502
        return None


def _producer(body: asyncio.Queue[bytes | None]) -> Callable[[Callable[[bytes], None]], Future[None]]:
    """Tornado's body producer: it is given the connection's ``write``, which
    (despite its annotation there) returns a Future to wait on."""
    async def pump(write: Callable[[bytes], Any]) -> None:
        while (chunk := await body.get()) is not None:
            await write(chunk)

    def produce(write: Callable[[bytes], None]) -> Future[None]:
        return asyncio.ensure_future(pump(write))
    return produce


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

