"""The front's connection to an app, against real Unix-socket servers answering in each HTTP framing."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from tornado.httputil import HTTPHeaders, ResponseStartLine

from ide.webapps.proxy import AppProxy, Upstream

Reply = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Received:
    def __init__(self) -> None:
        self.start: ResponseStartLine | None = None
        self.headers = HTTPHeaders()
        self.body = b""

    def upstream(self) -> Upstream:
        def head(start: ResponseStartLine, headers: HTTPHeaders) -> None:
            self.start, self.headers = start, headers

        def chunk(piece: bytes) -> asyncio.Future[None]:
            self.body += piece
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return done
        return Upstream(head, chunk)


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    if b"transfer-encoding: chunked" in head.lower():
        body = b""
        while (size := int((await reader.readline()).strip(), 16)) != 0:
            body += await reader.readexactly(size + 2)
        await reader.readline()
        return head + body
    return head


class App:
    """A server answering each request with ``reply``, counting its connections."""

    def __init__(self, server: asyncio.Server, path: Path) -> None:
        self.server = server
        self.path = path
        self.handlers: list[asyncio.Task[None]] = []
        self.writers: list[asyncio.StreamWriter] = []

    @property
    def connections(self) -> int:
        return len(self.handlers)

    async def stop(self) -> None:
        self.server.close()
        for writer in self.writers:
            writer.close()
        await asyncio.gather(*self.handlers, return_exceptions=True)


async def serve(tmp_path: Path, reply: Reply) -> App:
    path = tmp_path / "app.sock"
    app: App

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        app.handlers.append(task)
        app.writers.append(writer)
        try:
            while not reader.at_eof():
                await reply(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
    app = App(await asyncio.start_unix_server(handle, str(path)), path)
    return app


async def forward(proxy: AppProxy, path: Path, method: str = "GET") -> tuple[int | None, Received]:
    received = Received()
    failure = await proxy.forward(path, method, "/", HTTPHeaders({"Host": "a.example"}), None, received.upstream())
    return failure, received


@pytest.mark.gen_test(timeout=30)
async def test_chunks_with_an_interim_answer_and_trailers_and_the_connection_is_reused(tmp_path):
    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"5;x=y\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nTrailer: t\r\n\r\n")
    app = await serve(tmp_path, reply)
    proxy = AppProxy(10)
    try:
        for _ in range(3):
            failure, received = await forward(proxy, app.path)
            assert failure is None and received.start is not None and received.start.code == 200
            assert received.body == b"hello world"
        assert app.connections == 1
    finally:
        proxy.close()
        await app.stop()


@pytest.mark.gen_test(timeout=30)
async def test_a_body_until_close_an_http_10_answer_and_a_head_answer_end_their_connection(tmp_path):
    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await read_request(reader)
        if request.startswith(b"HEAD"):
            writer.write(b"HTTP/1.0 200 OK\r\nContent-Length: 99\r\n\r\n")
        else:
            writer.write(b"HTTP/1.1 200 OK\r\n\r\nuntil the end")
            await writer.drain()
            writer.close()
    app = await serve(tmp_path, reply)
    proxy = AppProxy(10)
    try:
        failure, received = await forward(proxy, app.path)
        assert failure is None and received.body == b"until the end"
        failure, received = await forward(proxy, app.path, "HEAD")
        assert failure is None and received.start is not None and received.body == b""
        failure, received = await forward(proxy, app.path)
        assert failure is None and received.body == b"until the end"
        assert app.connections == 3
    finally:
        proxy.close()
        await app.stop()


@pytest.mark.gen_test(timeout=30)
async def test_a_broken_answer_is_a_502_and_bytes_beyond_an_answer_end_the_connection(tmp_path):
    answers = iter([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA",
                    b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\nok",
                    b"nonsense\r\n\r\n",
                    b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"])

    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        answer = next(answers)
        writer.write(answer)
        await writer.drain()
        if answer.endswith(b"short"):
            writer.close()
    app = await serve(tmp_path, reply)
    proxy = AppProxy(10)
    try:
        failure, received = await forward(proxy, app.path)
        assert failure is None and received.body == b"ok"
        assert (await forward(proxy, app.path))[0] == 502  # on a new connection: the first said too much
        assert (await forward(proxy, app.path))[0] == 502
        failure, received = await forward(proxy, app.path)
        assert failure is None and received.body == b"short"  # broken off after the head: the caller ends it
        assert app.connections == 4
    finally:
        proxy.close()
        await app.stop()


@pytest.mark.gen_test(timeout=30)
async def test_a_streamed_body_goes_chunked_and_a_silent_app_gets_a_504(tmp_path):
    seen: list[bytes] = []

    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await read_request(reader)
        seen.append(request)
        if b"/slow" not in request:
            writer.write(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
    app = await serve(tmp_path, reply)
    proxy = AppProxy(1)
    try:
        body: asyncio.Queue[bytes | None] = asyncio.Queue()
        for piece in (b"abc", b"", b"defg", None):
            body.put_nowait(piece)
        received = Received()
        failure = await proxy.forward(app.path, "POST", "/", HTTPHeaders({"Host": "a"}), body, received.upstream())
        assert failure is None and received.start is not None and received.start.code == 201
        assert seen[0].endswith(b"Transfer-Encoding: chunked\r\n\r\nabc\r\ndefg\r\n")  # as the app decoded it
        received = Received()
        assert await proxy.forward(app.path, "GET", "/slow", HTTPHeaders({"Host": "a"}), None,
                                   received.upstream()) == 504
    finally:
        proxy.close()
        await app.stop()


@pytest.mark.gen_test(timeout=30)
async def test_a_kept_connection_carries_only_its_own_apps_requests(tmp_path):
    hosts: dict[str, list[bytes]] = {"one": [], "two": []}

    def replying(name: str) -> Reply:
        async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            request = await read_request(reader)
            hosts[name].append(request.split(b"Host: ")[1].split(b"\r\n")[0])
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n" + name[:3].encode())
        return reply
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one, two = await serve(tmp_path / "one", replying("one")), await serve(tmp_path / "two", replying("two"))
    proxy = AppProxy(10)
    try:
        for _ in range(3):
            for app, host in ((one, "one.example"), (two, "two.example")):
                received = Received()
                assert await proxy.forward(app.path, "GET", "/", HTTPHeaders({"Host": host}), None,
                                           received.upstream()) is None
                assert received.body == host[:3].encode()
        assert hosts == {"one": [b"one.example"] * 3, "two": [b"two.example"] * 3}
        assert one.connections == two.connections == 1
    finally:
        proxy.close()
        await one.stop()
        await two.stop()
