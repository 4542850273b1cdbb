"""One HTTP/1.1 connection to a web app's Unix socket, as an asyncio protocol.

Tornado's HTTP client made each forwarded request a chain of futures, each
a trip through the IOLoop, and cost the front more than the rest of the
request (docs/performance.md, "Web apps behind the front").  Here the
answer is read as its bytes arrive and handed on in the same callback.
Tornado's own functions parse the status line and the headers; the body is
framed by its Content-Length, its chunks, or the connection's end.  A slow
visitor pauses the reading (the app then waits), and a slow app pauses the
sending of a visitor's body.
"""
from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Protocol

from tornado.httputil import HTTPHeaders, HTTPInputError, ResponseStartLine, parse_response_start_line

MAX_HEAD = 64 * 1024
"""Bytes of status line and headers an app may send."""
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_CHUNKED_METHODS = ("POST", "PUT", "PATCH")


class Answer(Protocol):
    """Where an answer goes: ``head`` once (not for interim 1xx answers), then ``chunk`` for
    each piece of the body, whose Future is waited for before reading on."""

    def head(self, start: ResponseStartLine, headers: HTTPHeaders) -> None: ...

    def chunk(self, piece: bytes) -> Awaitable[None]: ...


class ConnectionLost(Exception):
    """The app closed the connection, or broke the protocol, before its answer was complete."""


class AppConnection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.on_close: Callable[[AppConnection], None] | None = None
        self._buffer = bytearray()
        self._answer: Answer | None = None
        self._done: asyncio.Future[bool] | None = None
        self._method = ""
        self._state = "head"
        self._left = 0
        self._keeps = False
        self._waiting = False
        self._eof = False
        self._writable: asyncio.Future[None] | None = None

    # -- asyncio's side -----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._eof = True
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        if self.on_close is not None:
            self.on_close(self)
        if self._done is not None and not self._waiting:
            if self._state == "until-close":
                self._finish(False)
            else:
                self._fail(ConnectionLost("the app closed the connection"))

    def pause_writing(self) -> None:
        self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self._writable = None

    def data_received(self, data: bytes) -> None:
        if self._done is None:
            self.close()  # an idle connection has nothing to say
            return
        self._buffer += data
        if not self._waiting:
            self._read()

    # -- the request ---------------------------------------------------------

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def send(self, method: str, uri: str, headers: HTTPHeaders, answer: Answer, has_body: bool) -> bool:
        """Send the request's head and start reading its answer; whether its body goes chunked."""
        assert self.transport is not None
        self._answer, self._method, self._state = answer, method, "head"
        self._done = asyncio.get_running_loop().create_future()
        chunked = has_body and method in _CHUNKED_METHODS and "Content-Length" not in headers
        lines = [f"{method} {uri} HTTP/1.1"]
        lines += [f"{name}: {value}" for name, value in headers.get_all()]
        if chunked:
            lines.append("Transfer-Encoding: chunked")
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        return chunked

    async def send_body(self, piece: bytes, chunked: bool) -> None:
        if self.closed or not piece:
            return
        assert self.transport is not None
        self.transport.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
        if self._writable is not None:
            await self._writable

    def end_body(self, chunked: bool) -> None:
        if chunked and not self.closed:
            assert self.transport is not None
            self.transport.write(b"0\r\n\r\n")

    async def answered(self) -> bool:
        """Once the whole answer was handed on: whether the connection may carry another request.
        ConnectionLost when it broke off."""
        assert self._done is not None
        try:
            return await self._done
        finally:
            self._done = None
            self._answer = None
            if self._buffer:  # more than the answer: nothing said on it can be trusted
                self.close()

    # -- the answer ------------------------------------------------------------

    def _read(self) -> None:
        try:
            while not self._waiting and self._done is not None and not self._done.done():
                if not self._step():
                    break
        except (HTTPInputError, ValueError) as exc:
            self._fail(ConnectionLost(f"the app's answer is not HTTP: {exc}"))
            return
        if self._eof and not self._waiting and self._done is not None and not self._done.done():
            if self._state == "until-close":
                self._finish(False)
            else:
                self._fail(ConnectionLost("the app closed the connection"))

    def _step(self) -> bool:
        """Handle what the buffer holds for the current state; False when more bytes are needed."""
        buffer = self._buffer
        if self._state == "head":
            return self._head()
        if self._state in ("fixed", "chunk", "until-close"):
            if not buffer:
                return False
            size = len(buffer) if self._state == "until-close" else min(len(buffer), self._left)
            piece = bytes(buffer[:size])
            del buffer[:size]
            self._left -= size
            if self._state == "fixed" and self._left == 0:
                self._state = "done"
            elif self._state == "chunk" and self._left == 0:
                self._state = "chunk-end"
            self._deliver(piece)
            return True
        if self._state == "chunk-end":
            if len(buffer) < 2:
                return False
            if buffer[:2] != b"\r\n":
                raise HTTPInputError("a chunk does not end with CRLF")
            del buffer[:2]
            self._state = "chunk-size"
            return True
        if self._state == "chunk-size":
            end = buffer.find(b"\r\n")
            if end < 0:
                if len(buffer) > MAX_HEAD:
                    raise HTTPInputError("a chunk size line is too long")
                return False
            size = int(bytes(buffer[:end]).split(b";")[0].strip(), 16)
            del buffer[:end + 2]
            self._state, self._left = ("trailers", 0) if size == 0 else ("chunk", size)
            return True
        if self._state == "trailers":
            end = buffer.find(b"\r\n")
            if end < 0:
                return False
            del buffer[:end + 2]  # trailers are hop-by-hop here: dropped
            if end == 0:
                self._state = "done"
            return True
        self._finish(not self._buffer)
        return False

    def _head(self) -> bool:
        found = _HEAD_END.search(self._buffer)
        if found is None:
            if len(self._buffer) > MAX_HEAD:
                raise HTTPInputError("the answer's head is too long")
            return False
        text = bytes(self._buffer[:found.start()]).decode("latin-1")
        del self._buffer[:found.end()]
        first, _, rest = text.partition("\n")
        start = parse_response_start_line(first.rstrip("\r"))
        headers = HTTPHeaders.parse(rest)
        if 100 <= start.code < 200:
            return True  # an interim answer: the real one follows
        self._keeps = start.version == "HTTP/1.1" and "close" not in headers.get("Connection", "").lower()
        if self._method == "HEAD" or start.code in (204, 304):
            self._state = "done"
        elif "chunked" in headers.get("Transfer-Encoding", "").lower():
            self._state = "chunk-size"
        elif "Content-Length" in headers:
            lengths = {value.strip() for value in headers["Content-Length"].split(",")}
            if len(lengths) != 1 or not next(iter(lengths)).isdigit():
                raise HTTPInputError("a Content-Length that is not one number")
            self._left = int(lengths.pop())
            self._state = "fixed" if self._left else "done"
        else:
            self._state, self._keeps = "until-close", False
        assert self._answer is not None
        self._answer.head(start, headers)
        return True

    def _deliver(self, piece: bytes) -> None:
        assert self._answer is not None
        waited = asyncio.ensure_future(self._answer.chunk(piece))
        if waited.done():
            if waited.exception() is not None:
                self._fail(ConnectionLost("the visitor went away"))
            return
        self._waiting = True
        if self.transport is not None:
            self.transport.pause_reading()
        waited.add_done_callback(self._delivered)

    def _delivered(self, waited: asyncio.Future[None]) -> None:
        self._waiting = False
        if waited.cancelled() or waited.exception() is not None:
            self._fail(ConnectionLost("the visitor went away"))
            return
        if self.transport is not None and not self.closed:
            self.transport.resume_reading()
        self._read()

    def _finish(self, clean: bool) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_result(clean and self._keeps and not self.closed)

    def _fail(self, error: Exception) -> None:
        self.close()
        if self._done is not None and not self._done.done():
            self._done.set_exception(error)
