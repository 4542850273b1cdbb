"""sockjs-tornado's transports, made safe for consoles.

Four things the stock transports lack:

* an origin rule: the stock router accepts WebSockets from every origin and
  its XHR transports echo any ``Origin`` back with credentials allowed, so
  any web page could read a logged-in user's console.  Here a request that
  carries an ``Origin`` must pass ``allowed_origin(origin, host)`` (by
  default: the Origin's host:port is the request's Host).  Requests without
  one (scripts using a token) are not browsers and are let through.
* queued-byte accounting: each transport counts what it handed to Tornado
  and not yet written, and tells the connection when some of it left, so
  the console's flow control reacts to real backpressure.
* closed WebSockets: Tornado 6.2+ raises ``WebSocketClosedError`` (not an
  ``IOError``) when a heartbeat is sent on a closed socket.
* last words: a session closing right after a message (``disconnect``) must
  deliver that message before its close frame (:class:`~consoles.sockjs_adapter.ConsoleSession`).

What these rely on inside sockjs-tornado and Tornado lives in
``consoles/sockjs_adapter.py``.

JSONP, EventSource and htmlfile are disabled: a script tag or an
EventSource can read their responses from any origin.  So are the pages
only the iframe-based transports and old clients use (``iframe*.html``,
which loads sockjs-client from a CDN and may be framed by any site,
``chunking_test`` and the greeting): the browser's client is told to use
websocket, xhr-streaming and xhr-polling only.  ``/info`` stays, as every
SockJS client asks it first.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any, Protocol
from urllib.parse import urlsplit

from sockjs.tornado import SockJSConnection, static
from sockjs.tornado.transports import (
    JSONPSendHandler,
    RawWebSocketTransport,
    WebSocketTransport,
    XhrPollingTransport,
    XhrSendHandler,
    XhrStreamingTransport,
)
from tornado.web import HTTPError
from tornado.websocket import WebSocketClosedError

from consoles import sockjs_adapter
from consoles.access import Access
from consoles.frames import Frame
from consoles.sockjs_adapter import (
    ConsoleSession,
    RawWebSocketTransportBase,
    RouterBase,
    WebSocketTransportBase,
    XhrPollingTransportBase,
    XhrSendHandlerBase,
    XhrStreamingTransportBase,
)
from consoles.viewer import Viewer

OriginRule = Callable[[str, str], bool]

DISABLED_TRANSPORTS = ["jsonp", "eventsource", "htmlfile"]


def same_host(origin: str, host: str) -> bool:
    """The default origin rule: the page's host:port is the one this request was sent to."""
    netloc = urlsplit(origin).netloc
    return bool(netloc) and netloc.lower() == host.lower()


class TransportListener(Protocol):
    def on_transport_progress(self) -> None:
        """Queued bytes of this connection reached the network."""


def _tell_progress(session: Any) -> None:
    # A closed session has no connection any more.
    connection: TransportListener | None = getattr(session, "conn", None)
    if connection is not None:
        connection.on_transport_progress()


class _WebSocketMixin:
    """Origin rule, byte counting through ``write_message``'s futures, closed-socket safety."""

    # Can write while earlier writes are still in flight (see ConsoleSession).
    streams = True

    server: ConsoleRouter
    session: Any
    request: Any
    unsent_bytes: int

    def initialize(self, server: ConsoleRouter) -> None:
        super().initialize(server)  # type: ignore[misc]
        self.unsent_bytes = 0

    def check_origin(self, origin: str) -> bool:
        return self.server.allowed_origin(origin, self.request.host)

    def send_pack(self, message: str, binary: bool = False) -> None:
        if binary or not sockjs_adapter.frames_writable(self):
            self._send_through_tornado(message, binary)
            return
        # The fan-out path: the same output goes to every viewer, so the
        # WebSocket frame is built once and written straight to each stream.
        try:
            unsent = sockjs_adapter.write_text_frame(self, message)
        except WebSocketClosedError:
            self.server.io_loop.add_callback(self.on_close)  # type: ignore[attr-defined]
            return
        if unsent is not None:  # not all of it went out at once: count it
            self.unsent_bytes += unsent.size
            unsent.future.add_done_callback(partial(self._written, unsent.size))

    def _send_through_tornado(self, message: str, binary: bool) -> None:
        try:
            future = self.write_message(message, binary)  # type: ignore[attr-defined]
        except WebSocketClosedError:
            self.server.io_loop.add_callback(self.on_close)  # type: ignore[attr-defined]
            return
        size = len(message)
        self.unsent_bytes += size
        future.add_done_callback(partial(self._written, size))

    def _written(self, size: int, future: Any) -> None:
        self.unsent_bytes -= size
        if future.cancelled() or future.exception() is not None:
            return  # the socket closed; on_close detaches the viewer
        _tell_progress(self.session)


class ConsoleWebSocketTransport(_WebSocketMixin, WebSocketTransportBase):
    pass


class ConsoleRawWebSocketTransport(_WebSocketMixin, RawWebSocketTransportBase):
    pass


class _SameOriginHTTPMixin:
    """The origin rule for the XHR transports, and CORS headers only for allowed origins."""

    server: ConsoleRouter
    request: Any

    def _origin_allowed(self) -> bool:
        origin = self.request.headers.get("Origin")
        return origin is None or self.server.allowed_origin(origin, self.request.host)

    def prepare(self) -> None:
        super().prepare()  # type: ignore[misc]
        if not self._origin_allowed():
            raise HTTPError(403, "console streams from another origin are refused")

    def preflight(self) -> None:
        if self._origin_allowed():
            super().preflight()  # type: ignore[misc]

    def verify_origin(self) -> bool:
        return self._origin_allowed()


class _PollingMixin(_SameOriginHTTPMixin):
    """Byte counting for the XHR transports: one pack in flight per write, in order."""

    session: Any

    def initialize(self, server: ConsoleRouter) -> None:
        super().initialize(server)  # type: ignore[misc]
        self._in_flight: deque[int] = deque()

    @property
    def unsent_bytes(self) -> int:
        return sum(self._in_flight)

    def send_pack(self, message: str, binary: bool = False) -> None:
        self._in_flight.append(len(message))
        super().send_pack(message, binary)  # type: ignore[misc]

    def send_complete(self, f: Any = None) -> None:
        if self._in_flight:
            self._in_flight.popleft()
        session = self.session  # the polling transport detaches in send_complete
        super().send_complete(f)  # type: ignore[misc]
        _tell_progress(session)


class ConsoleXhrStreamingTransport(_PollingMixin, XhrStreamingTransportBase):
    streams = True


class ConsoleXhrPollingTransport(_PollingMixin, XhrPollingTransportBase):
    streams = False

    def send_pack(self, message: str, binary: bool = False) -> None:
        # One response carries one pack.  The session writes its close frame
        # (and heartbeats) without asking whether this response is taken;
        # a closed session gives the close frame to the next poll anyway.
        if self.active:
            super().send_pack(message, binary)


class ConsoleXhrSendHandler(_SameOriginHTTPMixin, XhrSendHandlerBase):
    pass


_REPLACEMENTS: dict[type, type] = {
    WebSocketTransport: ConsoleWebSocketTransport,
    RawWebSocketTransport: ConsoleRawWebSocketTransport,
    XhrStreamingTransport: ConsoleXhrStreamingTransport,
    XhrPollingTransport: ConsoleXhrPollingTransport,
    XhrSendHandler: ConsoleXhrSendHandler,
}


# Handlers no enabled transport needs (see the module docstring).
_UNUSED_HANDLERS = (JSONPSendHandler, static.IFrameHandler, static.ChunkingTestHandler,
                    static.GreetingsHandler)


class ConsoleRouter(RouterBase):
    """A SockJS router serving websocket, xhr-streaming, xhr-polling and the raw WebSocket.

    sockjs-tornado's per-session client IP check (``verify_ip``) stays on.
    """

    def __init__(self, connection: type[SockJSConnection], prefix: str,
                 allowed_origin: OriginRule | None = None) -> None:
        super().__init__(connection, prefix, {"disabled_transports": DISABLED_TRANSPORTS},
                         session_kls=ConsoleSession)
        self.allowed_origin: OriginRule = allowed_origin or same_host
        self.replace_handlers(_REPLACEMENTS, _UNUSED_HANDLERS)


class SockJSViewer(Viewer):
    """A console viewer over a SockJS session (any transport)."""

    def __init__(self, connection: SockJSConnection, access: Access) -> None:
        super().__init__(access.username, access.readonly, access.credential)
        self._connection = connection

    def transmit(self, frame: Frame) -> None:
        session = self._connection.session
        if session.is_closed:
            return
        if session.send_expects_json:
            session.send_jsonified(frame.sockjs)
        else:  # the raw WebSocket sends the message text itself
            session.send_message(frame.text)

    def queued_bytes(self) -> int:
        session = self._connection.session
        handler = session.handler
        in_flight = getattr(handler, "unsent_bytes", 0) if handler is not None else 0
        return sockjs_adapter.queued_chars(session) + in_flight

    def discard_queued(self) -> None:
        sockjs_adapter.discard_queued(self._connection.session)

    def end(self, frame: Frame) -> None:
        self.transmit(frame)
        if not self._connection.is_closed:
            self._connection.close()
