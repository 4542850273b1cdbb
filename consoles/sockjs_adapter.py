"""Where the console stream leans on sockjs-tornado's and Tornado's internals.

This module is the only one of ours that touches another library's private
names or relies on behaviour their documentation does not promise
(``tests/consoles/test_no_private_reaches.py`` enforces that).  Each reach
below says what it relies on and why; ``tests/consoles/test_library_contracts.py``
pins every one against real servers and clients, so an upgrade of Tornado
(6.x here) or sockjs-tornado (1.0.7, pinned) that breaks one fails a test,
not production.  ``docs/architecture.md`` ("Reaching into libraries") lists
them with their measured gains.

sockjs-tornado ships no type information: the classes the console stream
derives from are re-exported here as typed bases, so that the one
``type: ignore`` each needs (mypy's "cannot subclass Any") stays here.
"""
from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from sockjs.tornado import SockJSConnection, SockJSRouter, proto
from sockjs.tornado.session import CLOSED, Session
from sockjs.tornado.transports import (
    RawWebSocketTransport,
    WebSocketTransport,
    XhrPollingTransport,
    XhrSendHandler,
    XhrStreamingTransport,
)
from tornado.concurrent import Future
from tornado.iostream import IOStream, StreamClosedError
from tornado.websocket import WebSocketClosedError

# Typed bases.  Each subclasses an untyped sockjs-tornado class: mypy --strict
# reports "cannot subclass ... (has type Any)" [misc], which is expected and
# ignored here only; whoever derives from these bases gets no such finding.

class ConnectionBase(SockJSConnection):  # type: ignore[misc]
    """sockjs-tornado's ``SockJSConnection``: one client's session, whatever the transport."""

    session: Any


class WebSocketTransportBase(WebSocketTransport):  # type: ignore[misc]
    """sockjs-tornado's SockJS-framed WebSocket transport."""


class RawWebSocketTransportBase(RawWebSocketTransport):  # type: ignore[misc]
    """sockjs-tornado's raw WebSocket transport (message text, no SockJS framing)."""


class XhrStreamingTransportBase(XhrStreamingTransport):  # type: ignore[misc]
    """sockjs-tornado's xhr-streaming transport."""


class XhrPollingTransportBase(XhrPollingTransport):  # type: ignore[misc]
    """sockjs-tornado's xhr-polling transport."""


class XhrSendHandlerBase(XhrSendHandler):  # type: ignore[misc]
    """sockjs-tornado's handler for messages sent by the XHR transports."""


# Frames built once per message.

_last_frame: tuple[str, bytes] = ("", b"")


def text_frame(message: str) -> bytes:
    """An unmasked, final WebSocket text frame (RFC 6455 5.2) carrying ``message``.

    Relies on: a server's frames being plain RFC 6455 frames when the
    connection negotiated no extension (see :func:`frames_writable`).
    Why: a console's output reaches every viewer as the same text, so the
    frame is built once per message, not once per viewer, and the last one is
    kept for the next viewer.
    """
    global _last_frame
    if _last_frame[0] == message:
        return _last_frame[1]
    payload = message.encode()
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x81, size)
    elif size <= 0xFFFF:
        header = struct.pack("!BBH", 0x81, 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 127, size)
    frame = header + payload
    _last_frame = (message, frame)
    return frame


def compression_negotiated(handler: Any) -> bool:
    """Whether the handler's WebSocket negotiated permessage-deflate.

    Relies on: Tornado's ``WebSocketProtocol13._compressor``, set when the
    client and ``get_compression_options`` agreed on compression and None
    otherwise (there is no public way to ask).  Why: a compressed connection
    needs Tornado's framing (RSV1 and deflated payloads), so frames built here
    may only go to connections without it.
    """
    connection = getattr(handler, "ws_connection", None)
    return connection is not None and getattr(connection, "_compressor", None) is not None


def frames_writable(handler: Any) -> bool:
    """Whether :func:`write_text_frame` may be used for this WebSocket handler:
    it has a connection and that connection is not compressed."""
    connected = getattr(handler, "ws_connection", None) is not None
    return connected and not compression_negotiated(handler)


class Unsent(NamedTuple):
    """Bytes of a frame still queued in Tornado's stream, and the Future of their write."""

    size: int
    future: Future[None]


def write_text_frame(handler: Any, message: str) -> Unsent | None:
    """Write ``message`` as one text frame on the handler's WebSocket, bypassing
    ``write_message``; None when all of it reached the socket at once.

    Raises :class:`WebSocketClosedError` when the connection is closing or
    gone.  Relies on: ``WebSocketProtocol13`` keeping no per-frame state on
    the sending side for an uncompressed connection (so frames from here and
    from ``write_message`` may interleave), its public ``stream`` (an
    ``IOStream`` with the public ``socket`` and ``writing()``), and the stream
    needing no notice of bytes written to its socket while it is not writing.
    Why: ``write_message`` encodes and frames the text again for every
    viewer, and ``IOStream.write`` makes a Future and schedules a callback for
    every write; here a frame with nothing queued before it goes straight to
    the socket (``bench/ws_frames.py``, 100 viewers: 6.6 µs of server CPU
    per viewer per frame instead of 20.4 µs through ``write_message``; see
    ``docs/architecture.md``).
    """
    connection = handler.ws_connection
    if connection is None or connection.is_closing():
        raise WebSocketClosedError()
    frame = text_frame(message)
    stream = connection.stream
    if type(stream) is IOStream and not stream.writing():
        # Nothing is queued before it, so the frame may go straight to the socket.
        try:
            sent = stream.socket.send(frame)
        except BlockingIOError:
            sent = 0
        except OSError as exc:  # the peer is gone; the stream's reader will see it too
            raise WebSocketClosedError() from exc
        if sent == len(frame):
            return None
        frame = frame[sent:]
    try:
        future: Future[None] = stream.write(frame)
    except StreamClosedError as exc:
        raise WebSocketClosedError() from exc
    return Unsent(len(frame), future) if stream.writing() else None


# The router's URL list.

class RouterBase(SockJSRouter):  # type: ignore[misc]
    """sockjs-tornado's router, with a way to swap and drop the handlers it serves."""

    _transport_urls: list[tuple[str, type, dict[str, Any]]]

    def replace_handlers(self, replacements: Mapping[type, type], dropped: Iterable[type]) -> None:
        """Serve each stock handler class through its replacement; drop the ``dropped`` ones.

        Relies on: ``SockJSRouter._transport_urls``, the list of
        ``(pattern, handler class, kwargs)`` that ``__init__`` builds and the
        public ``urls`` returns (there is no hook to choose the handlers).
        Why: the stock transports lack the origin rule and the byte counting
        the consoles need, and some stock pages must not be served at all
        (``consoles/transports.py`` says which and why).
        """
        unwanted = tuple(dropped)
        self._transport_urls = [(pattern, replacements.get(handler, handler), kwargs)
                                for pattern, handler, kwargs in self._transport_urls
                                if handler not in unwanted]


# Sessions.

class ConsoleSession(Session):  # type: ignore[misc]
    """A SockJS session whose last messages are not lost when it closes.

    The stock session writes its close frame straight to the transport,
    ahead of messages still queued (a streaming response busy with an earlier
    write), and a closed session that still had messages for a later request
    never closes that request.  A ``disconnect`` must arrive, so here the queue
    goes out first and such a request ends with the close frame.

    Relies on: ``Session.close(code, message)`` and ``Session.flush()`` being
    the only ways out of the queue, and the session's ``send_queue`` (the
    joined JSON of queued messages), ``handler``, ``state`` and
    ``get_close_reason()``, and the handler's ``send_pack`` and
    ``session_closed``.  A handler whose class sets ``streams`` can take a
    write while earlier ones are in flight.
    """

    send_queue: str
    handler: Any
    state: int

    def _can_stream(self) -> bool:
        return self.handler is not None and getattr(self.handler, "streams", False)

    def close(self, code: int = 3000, message: str = "Go away!") -> None:
        if self.state != CLOSED and self.send_queue and self._can_stream():
            self.handler.send_pack(f"a[{self.send_queue}]")
            self.send_queue = ""
        super().close(code, message)

    def flush(self) -> None:
        super().flush()
        if self.state == CLOSED and not self.send_queue and self._can_stream():
            handler = self.handler
            handler.send_pack(proto.disconnect(*self.get_close_reason()))
            handler.session_closed()


def queued_chars(session: Any) -> int:
    """Characters of messages a session holds for a transport that has not taken them yet.

    Relies on: sockjs-tornado's ``Session.send_queue``, a string (a raw
    WebSocket session has none).  Why: a viewer's backpressure counts what
    waits in the session as well as what its transport has in flight.
    """
    return len(getattr(session, "send_queue", ""))


def discard_queued(session: Any) -> None:
    """Drop the messages a session holds for its transport (a read-only viewer skipped ahead)."""
    if getattr(session, "send_queue", ""):
        session.send_queue = ""
