"""Small console-stream clients for tests, one per transport the server offers.

Each speaks real SockJS (or the raw WebSocket) over real sockets: frames
``o`` (open), ``h`` (heartbeat), ``a[...]`` (messages) and ``c[code, reason]``
(close).  Console messages are the JSON arrays of ``docs/protocol.md``.
"""
from __future__ import annotations

import abc
import asyncio
import json
import re
import secrets
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

Message = list[Any]

TRANSPORTS = ("websocket", "raw_websocket", "xhr_streaming", "xhr_polling")


class StreamClosed(Exception):
    """The server closed the stream before the expected message came."""


class ConsoleClient(abc.ABC):
    """Collects the console messages of one stream; subclasses speak a transport."""

    def __init__(self, base_url: str, console_id: str, prefix: str,
                 headers: Mapping[str, str] | None) -> None:
        self.base_url = base_url
        self.console_id = console_id
        self.prefix = prefix
        self.headers = dict(headers or {})
        self.received: list[Message] = []
        self.close_frame: Any = None
        self.closed = asyncio.Event()
        self._queue: asyncio.Queue[Message | None] = asyncio.Queue()
        self._reading = asyncio.Event()
        self._reading.set()
        self._task: asyncio.Task[None] | None = None
        self.session_path = f"{prefix}/{secrets.randbelow(1000):03d}/{secrets.token_hex(8)}"

    @property
    def query(self) -> str:
        return urlencode({"id": self.console_id})

    @abc.abstractmethod
    async def start(self) -> ConsoleClient:
        """Connect; return self once the stream is open."""

    @abc.abstractmethod
    async def send_text(self, text: str) -> None:
        """Send one encoded console message."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Close the stream from the client side."""

    def _deliver(self, text: str) -> None:
        message = json.loads(text)
        self.received.append(message)
        self._queue.put_nowait(message)

    def _deliver_sockjs_frame(self, frame: str) -> None:
        if frame.startswith("a"):
            for text in json.loads(frame[1:]):
                self._deliver(text)
        elif frame.startswith("c"):
            self.close_frame = json.loads(frame[1:])
            self._ended()

    def _ended(self) -> None:
        if not self.closed.is_set():
            self.closed.set()
            self._queue.put_nowait(None)

    # Reading -------------------------------------------------------------

    def pause_reading(self) -> None:
        """Stop taking data from the network (a slow client)."""
        self._reading.clear()

    def resume_reading(self) -> None:
        self._reading.set()

    async def next(self, timeout: float = 30) -> Message:
        message = await asyncio.wait_for(self._queue.get(), timeout)
        if message is None:
            self._queue.put_nowait(None)
            raise StreamClosed(f"stream closed ({self.close_frame}); received {self.received[-5:]}")
        return message

    async def until(self, predicate: Callable[[Message], bool], timeout: float = 30) -> Message:
        """Read until a message matches ``predicate``; return it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            message = await self.next(max(0.01, deadline - loop.time()))
            if predicate(message):
                return message

    async def output_until(self, pattern: str, timeout: float = 30) -> str:
        """Read until the stdout seen so far matches ``pattern``; return that stdout."""
        if re.search(pattern, self.output):
            return self.output
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                message = await self.next(max(0.01, deadline - loop.time()))
            except TimeoutError:
                raise AssertionError(f"no {pattern!r} in output: {self.output[-2000:]!r}") from None
            if message[0] == "stdout" and re.search(pattern, self.output):
                return self.output

    async def until_closed(self, timeout: float = 30) -> list[Message]:
        await asyncio.wait_for(self.closed.wait(), timeout)
        return self.received

    @property
    def output(self) -> str:
        return "".join(message[1] for message in self.received if message[0] == "stdout")

    def of_kind(self, kind: str) -> list[Message]:
        return [message for message in self.received if message[0] == kind]

    # Writing -----------------------------------------------------------------

    async def send(self, message: Any) -> None:
        await self.send_text(json.dumps(message))

    async def type(self, text: str) -> None:
        await self.send(["stdin", text])


class SockJSWebSocketClient(ConsoleClient):
    """``<prefix>/<server>/<session>/websocket``: SockJS framing over a WebSocket."""

    path_suffix = "/websocket"
    sockjs_framing = True

    async def start(self) -> ConsoleClient:
        url = self.base_url.replace("http://", "ws://") + self.url_path() + "?" + self.query
        self.connection: WebSocketClientConnection = await websocket_connect(
            HTTPRequest(url, headers=self.headers))
        self._task = asyncio.ensure_future(self._read_loop())
        return self

    def url_path(self) -> str:
        return self.session_path + self.path_suffix

    async def _read_loop(self) -> None:
        while True:
            await self._reading.wait()
            text = await self.connection.read_message()
            if text is None:
                break
            assert isinstance(text, str)
            if self.sockjs_framing:
                self._deliver_sockjs_frame(text)
            else:
                self._deliver(text)
        self._ended()

    async def send_text(self, text: str) -> None:
        await self.connection.write_message(json.dumps([text]) if self.sockjs_framing else text)

    async def send_raw_frame(self, frame: str) -> None:
        """Send a WebSocket message exactly as given (for malformed-input tests)."""
        await self.connection.write_message(frame)

    async def close(self) -> None:
        self.connection.close()
        await asyncio.wait_for(self.closed.wait(), 30)


class RawWebSocketClient(SockJSWebSocketClient):
    """``<prefix>/websocket``: one console message per WebSocket message, no SockJS framing."""

    sockjs_framing = False

    def url_path(self) -> str:
        return self.prefix + "/websocket"


class _XhrClient(ConsoleClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.http = AsyncHTTPClient(force_instance=True, max_clients=4)

    def url(self, transport: str) -> str:
        return f"{self.base_url}{self.session_path}/{transport}?{self.query}"

    async def send_text(self, text: str) -> None:
        await self.send_body(json.dumps([text]))

    async def send_body(self, body: str) -> None:
        """POST a raw ``xhr_send`` body (for malformed-input tests)."""
        await self.http.fetch(self.url("xhr_send"), method="POST", body=body,
                              headers=self.headers, request_timeout=30)

    async def close(self) -> None:
        # Polling transports end a session by going away: no new request is
        # made, the one in flight ends when the server lets it go.
        self._ended()
        self.http.close()

    async def _poll_forever(self, poll: Callable[[], Any]) -> None:
        try:
            while not self.closed.is_set():
                await self._reading.wait()
                await poll()
        except HTTPClientError as exc:
            self.close_frame = f"HTTP {exc.code}"
        finally:
            self._ended()


class XhrStreamingClient(_XhrClient):
    """``xhr_streaming``: a long POST whose body is a prelude then one frame per line."""

    async def start(self) -> ConsoleClient:
        self._task = asyncio.ensure_future(self._poll_forever(self._stream_once))
        return self

    async def _stream_once(self) -> None:
        buffer = ""

        def on_chunk(chunk: bytes) -> None:
            nonlocal buffer
            buffer += chunk.decode("utf-8")
            *lines, buffer = buffer.split("\n")
            for line in lines:
                if line and not line.startswith("hhhh"):
                    self._deliver_sockjs_frame(line)

        # The server ends the response after 128 KiB; the client opens another.
        await self.http.fetch(self.url("xhr_streaming"), method="POST", body="",
                              headers=self.headers, streaming_callback=on_chunk,
                              request_timeout=3600)


class XhrPollingClient(_XhrClient):
    """``xhr``: each POST returns one frame."""

    async def start(self) -> ConsoleClient:
        self._task = asyncio.ensure_future(self._poll_forever(self._poll_once))
        return self

    async def _poll_once(self) -> None:
        response = await self.http.fetch(self.url("xhr"), method="POST", body="",
                                         headers=self.headers, request_timeout=3600)
        self._deliver_sockjs_frame(response.body.decode("utf-8").rstrip("\n"))


_CLIENTS: dict[str, type[ConsoleClient]] = {
    "websocket": SockJSWebSocketClient,
    "raw_websocket": RawWebSocketClient,
    "xhr_streaming": XhrStreamingClient,
    "xhr_polling": XhrPollingClient,
}


async def connect(transport: str, base_url: str, console_id: str, *,
                  prefix: str = "/consoles/sockjs",
                  headers: Mapping[str, str] | None = None) -> ConsoleClient:
    """Open a console stream over ``transport`` (one of :data:`TRANSPORTS`)."""
    return await _CLIENTS[transport](base_url, console_id, prefix, headers).start()
