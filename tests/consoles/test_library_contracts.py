"""What consoles/sockjs_adapter.py and ide/web/tornado_adapter.py rely on in Tornado and
sockjs-tornado, pinned against real servers and clients on loopback: an upgrade that
breaks one of these assumptions fails here first."""
from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import tornado.web
import websockets.asyncio.client
from sockjs.tornado import SockJSConnection, SockJSRouter, static
from sockjs.tornado.session import CLOSED, Session
from sockjs.tornado.transports import (
    JSONPSendHandler,
    RawWebSocketTransport,
    WebSocketTransport,
    XhrPollingTransport,
    XhrSendHandler,
    XhrStreamingTransport,
)
from tornado.httpclient import AsyncHTTPClient, HTTPClientError
from tornado.httpserver import HTTPServer
from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine
from tornado.testing import bind_unused_port
from tornado.websocket import WebSocketClosedError, WebSocketHandler, websocket_connect

from consoles import sockjs_adapter
from consoles.transports import (
    ConsoleRawWebSocketTransport,
    ConsoleRouter,
    ConsoleWebSocketTransport,
    ConsoleXhrPollingTransport,
    ConsoleXhrSendHandler,
    ConsoleXhrStreamingTransport,
)
from ide.web.tornado_adapter import ExceptionHookHandler, streams_body

# Sizes on each side of the three payload-length encodings of RFC 6455, and text
# that is longer in UTF-8 than in characters.
MESSAGES = ["", "x" * 125, "y" * 126, "é" * 40000, "z" * 65535, "w" * 65536, "€🙂" * 50000]


@asynccontextmanager
async def serve(*handlers: Any) -> AsyncIterator[int]:
    sock, port = bind_unused_port()
    server = HTTPServer(tornado.web.Application(list(handlers)))
    server.add_sockets([sock])
    try:
        yield port
    finally:
        server.stop()
        await server.close_all_connections()


class Seen:
    """What the handlers saw, for the test to read."""

    def __init__(self) -> None:
        self.opened = asyncio.Event()
        self.compressed: bool | None = None
        self.writable: bool | None = None
        self.has_attribute: bool | None = None
        self.closed_write: BaseException | None = None


class FramesHandler(WebSocketHandler):
    """Sends MESSAGES as hand-built frames, each followed by the same through Tornado."""

    def initialize(self, seen: Seen, compress: bool) -> None:
        self.seen = seen
        self.compress = compress

    def get_compression_options(self) -> dict[str, Any] | None:
        return {} if self.compress else None

    def open(self) -> None:
        self.seen.compressed = sockjs_adapter.compression_negotiated(self)
        self.seen.writable = sockjs_adapter.frames_writable(self)
        self.seen.has_attribute = hasattr(self.ws_connection, "_compressor")
        self.seen.opened.set()
        if self.seen.writable:
            for message in MESSAGES:
                sockjs_adapter.write_text_frame(self, message)
                self.write_message(message)

    def on_message(self, message: str | bytes) -> None:
        self.close()
        try:
            sockjs_adapter.write_text_frame(self, "too late")
        except WebSocketClosedError as exc:
            self.seen.closed_write = exc


@pytest.mark.gen_test(timeout=60)
@pytest.mark.parametrize("server_compresses", [False, True])
async def test_compression_is_seen_through_the_private_attribute(server_compresses):
    seen = Seen()
    kwargs = {"seen": seen, "compress": server_compresses}
    async with serve((r"/ws", FramesHandler, kwargs)) as port:
        client = await websocket_connect(f"ws://127.0.0.1:{port}/ws", compression_options={})
        await seen.opened.wait()
        client.close()
    # Tornado's WebSocketProtocol13 keeps ``_compressor``: set when negotiated, else None.
    assert seen.has_attribute is True
    assert seen.compressed is server_compresses
    assert seen.writable is not server_compresses


@pytest.mark.gen_test(timeout=60)
async def test_hand_built_frames_read_back_by_tornados_client():
    seen = Seen()
    async with serve((r"/ws", FramesHandler, {"seen": seen, "compress": False})) as port:
        client = await websocket_connect(f"ws://127.0.0.1:{port}/ws", max_message_size=1 << 20)
        received = [await client.read_message() for _ in range(2 * len(MESSAGES))]
        await client.write_message("bye")
        assert await client.read_message() is None
    assert received == [message for message in MESSAGES for _ in (1, 2)]
    assert isinstance(seen.closed_write, WebSocketClosedError)


@pytest.mark.gen_test(timeout=60)
async def test_hand_built_frames_read_back_by_the_websockets_library():
    # An independent implementation of RFC 6455, strict about framing.
    seen = Seen()
    async with serve((r"/ws", FramesHandler, {"seen": seen, "compress": False})) as port:
        async with websockets.asyncio.client.connect(f"ws://127.0.0.1:{port}/ws", compression=None,
                                                     max_size=1 << 20) as client:
            received = [await client.recv() for _ in range(2 * len(MESSAGES))]
    assert received == [message for message in MESSAGES for _ in (1, 2)]


def test_the_routers_url_list_has_the_shape_rewritten():
    router = SockJSRouter(SockJSConnection, "/s")
    try:
        assert router.urls is router._transport_urls
        assert all(isinstance(pattern, str) and isinstance(handler, type)
                   and kwargs == {"server": router}
                   for pattern, handler, kwargs in router._transport_urls)
        stock = {handler for _, handler, _ in router.urls}
        replaced = {WebSocketTransport, RawWebSocketTransport, XhrStreamingTransport,
                    XhrPollingTransport, XhrSendHandler}
        unused = {JSONPSendHandler, static.IFrameHandler, static.ChunkingTestHandler,
                  static.GreetingsHandler}
        assert replaced | unused <= stock
    finally:
        router._sessions_cleanup.stop()


def test_the_console_router_serves_only_its_own_transports():
    router = ConsoleRouter(SockJSConnection, "/s")
    try:
        served = {handler for _, handler, _ in router.urls}
        assert served == {ConsoleWebSocketTransport, ConsoleRawWebSocketTransport,
                          ConsoleXhrStreamingTransport, ConsoleXhrPollingTransport,
                          ConsoleXhrSendHandler, static.InfoHandler}
        # A session the router makes is the adapter's, with the queue it reads.
        session = router.create_session("abc", register=False)
        assert isinstance(session, sockjs_adapter.ConsoleSession)
        assert session.send_queue == "" and sockjs_adapter.queued_chars(session) == 0
        session.send_jsonified('"[\\"stdout\\", \\"hi\\"]"')
        assert sockjs_adapter.queued_chars(session) == len(session.send_queue) > 0
        sockjs_adapter.discard_queued(session)
        assert session.send_queue == ""
        # What ConsoleSession's close and flush read: no transport yet, not closed.
        assert session.handler is None and session.state != CLOSED
        assert callable(session.get_close_reason)
    finally:
        router._sessions_cleanup.stop()


def _parameters(function: Any) -> list[tuple[str, Any]]:
    return [(name, parameter.default)
            for name, parameter in inspect.signature(function).parameters.items()]


def test_the_overridden_methods_keep_their_signatures():
    empty = inspect.Parameter.empty
    assert _parameters(Session.close) == [("self", empty), ("code", 3000), ("message", "Go away!")]
    assert _parameters(Session.flush) == [("self", empty)]
    for transport in (WebSocketTransport, RawWebSocketTransport, XhrStreamingTransport,
                      XhrPollingTransport):
        assert _parameters(transport.send_pack) == [("self", empty), ("message", empty),
                                                    ("binary", False)]
        assert _parameters(transport.session_closed) == [("self", empty)]
    for handler in (WebSocketTransport, RawWebSocketTransport, XhrStreamingTransport,
                    XhrPollingTransport, XhrSendHandler):
        assert _parameters(handler.initialize) == [("self", empty), ("server", empty)]
    for transport in (XhrStreamingTransport, XhrPollingTransport):
        assert _parameters(transport.send_complete) == [("self", empty), ("f", None)]
    for handler in (XhrStreamingTransport, XhrPollingTransport, XhrSendHandler):
        assert _parameters(handler.preflight) == [("self", empty)]
        assert _parameters(handler.verify_origin) == [("self", empty)]


class DomainError(Exception):
    pass


class Failing(ExceptionHookHandler):
    def answer_exception(self, e: BaseException) -> bool:
        if not isinstance(e, DomainError):
            return False
        if not self.is_finished():
            self.send_error(409)
        return True

    def get(self, what: str) -> None:
        if what == "finished":
            self.finish("done")
            assert self.is_finished()
            raise DomainError()
        assert not self.is_finished()
        raise DomainError() if what == "domain" else RuntimeError("a bug")


@pytest.mark.gen_test(timeout=60)
async def test_tornado_hands_every_exception_to_the_hook():
    async with serve((r"/(\w+)", Failing)) as port:
        http = AsyncHTTPClient(force_instance=True)
        try:
            with pytest.raises(HTTPClientError) as domain:
                await http.fetch(f"http://127.0.0.1:{port}/domain")
            with pytest.raises(HTTPClientError) as bug:
                await http.fetch(f"http://127.0.0.1:{port}/bug")
            finished = await http.fetch(f"http://127.0.0.1:{port}/finished")
        finally:
            http.close()
    assert domain.value.code == 409
    assert bug.value.code == 500
    assert finished.code == 200 and finished.body == b"done"


@tornado.web.stream_request_body
class Streaming(tornado.web.RequestHandler):
    def data_received(self, chunk: bytes) -> None:
        pass


def test_the_chosen_handler_says_whether_it_streams_bodies():
    application = tornado.web.Application([(r"/stream", Streaming), (r"/whole", Failing)])

    def delegate(path: str) -> Any:
        request = HTTPServerRequest(start_line=RequestStartLine("POST", path, "HTTP/1.1"),
                                    headers=HTTPHeaders({"Host": "127.0.0.1"}))
        return application.find_handler(request)

    assert streams_body(delegate("/stream")) is True
    assert streams_body(delegate("/whole")) is False
