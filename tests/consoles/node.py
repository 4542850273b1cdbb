"""One real console node for tests: manager, SockJS router and HTTP server on 127.0.0.1.

Its ``authorize`` stands in for the web layer: the user is named by a
``user`` cookie or an ``Authorization: Token <username>`` header, owners
get read-write access and ``shares`` grants others ``"ro"`` or ``"rw"``.
"""
from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil
import redis.asyncio as aioredis
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port
from tornado.web import Application

from consoles import Access, AttachRequest, Console, ConsoleManager, FlowLimits, NodeKey, make_console_router
from consoles.screen import render_tail
from sandbox import Sandbox
from tests.consoles.sockjs_client import ConsoleClient, connect

BASH = ("bash", "--norc", "--noprofile")
DEPLOYMENT_SECRET = b"the secret every test node of one deployment shares"
DEPLOYMENT_KEY = NodeKey(DEPLOYMENT_SECRET)


class ConsoleNode:
    """Use as ``async with ConsoleNode(redis_socket, homes) as service:``.

    Not ``ide.console_service.ConsoleService`` (the web layer's start
    requests): this is the ``consoles`` layer alone, as one node runs it.
    """

    def __init__(self, redis_socket: str, homes: Path, node_id: str = "node-1",
                 limits: FlowLimits = FlowLimits(), scrollback_bytes: int = 512 * 1024,
                 scrollback_dir: Path | None = None) -> None:
        self.redis = aioredis.Redis(unix_socket_path=redis_socket, decode_responses=True)
        self.sandbox = Sandbox(homes)
        self.manager = ConsoleManager(self.redis, self.sandbox, node_id, DEPLOYMENT_KEY,
                                      scrollback_bytes=scrollback_bytes, limits=limits,
                                      scrollback_dir=scrollback_dir)
        self.shares: dict[tuple[str, str], str] = {}
        # Logins (the ``login`` cookie) that have ended: their connections must not stay.
        self.ended_credentials: set[str] = set()
        self.gate: asyncio.Event | None = None
        self.requests: list[AttachRequest] = []
        self.url = ""
        self._server: HTTPServer | None = None
        self._clients: list[ConsoleClient] = []

    async def __aenter__(self) -> ConsoleNode:
        router = make_console_router(self.manager, self.authorize)
        sock, port = bind_unused_port()
        self._server = HTTPServer(Application(router.urls))
        self._server.add_sockets([sock])
        self.url = f"http://127.0.0.1:{port}"
        await self.manager.listen()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        for client in self._clients:
            await client.close()
        await self.manager.shutdown()
        await self.sandbox.close()
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()
        await self.redis.aclose()

    async def authorize(self, request: AttachRequest) -> Access | None:
        self.requests.append(request)
        if self.gate is not None:
            await self.gate.wait()
        token = re.fullmatch(r"Token (\w+)", request.headers.get("Authorization", ""))
        username = request.cookies.get("user") or (token.group(1) if token else None)
        if not username:
            return None
        credential = request.cookies.get("login", "")
        console = self.manager.get_live(request.console_id)
        if console is None:
            # Claim access to an unknown id: the stream must still refuse it.
            return Access(username, readonly=False, credential=credential)
        if console.owner == username:
            return Access(username, readonly=False, credential=credential)
        mode = self.shares.get((console.id, username))
        return None if mode is None else Access(username, readonly=(mode == "ro"), credential=credential)

    async def start_console(self, owner: str = "alice", argv: Sequence[str] = BASH,
                            limit: int = 10, **kwargs: Any) -> Console:
        identity = self.sandbox.identity(owner, "free")
        record = await self.manager.create(identity, list(argv), identity.visible_home,
                                           kwargs.pop("name", "test console"), limit, **kwargs)
        console = self.manager.get_live(record.id)
        assert console is not None
        return console

    async def attach(self, console: Console | str, user: str = "alice",
                     transport: str = "websocket", **headers: str) -> ConsoleClient:
        """A client attached as ``user`` (by cookie) over ``transport``."""
        console_id = console if isinstance(console, str) else console.id
        client = await connect(transport, self.url, console_id,
                               headers={"Cookie": f"user={user}", **headers})
        self._clients.append(client)
        return client


def screen_text(console: Console, min_chars: int = 500) -> str:
    """What ``get_latest_output`` shows of a console (the server renders it in a worker process)."""
    return render_tail(console.output_tail(min_chars), console.rows, console.cols, min_chars)


async def wait_for(condition: Any, timeout: float = 30, interval: float = 0.05,
                   message: str = "condition") -> Any:
    """Poll ``condition()`` (sync or async) until it is truthy; return its value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        await asyncio.sleep(interval)


def is_gone(pid: int) -> bool:
    """True once ``pid`` is no longer running (a zombie waiting for init counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
