"""The serving loop the peer servers share: listen on loopback, say where,
run until SIGINT/SIGTERM, then let the peer clean up."""
from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Awaitable, Callable

import tornado.httpserver
import tornado.netutil
import tornado.web


async def serve_until_signalled(app: tornado.web.Application, port: int) -> None:
    """Serve ``app`` on 127.0.0.1:``port`` and return once asked to stop."""
    sockets = tornado.netutil.bind_sockets(port, "127.0.0.1")
    server = tornado.httpserver.HTTPServer(app)
    server.add_sockets(sockets)
    print(f"Listening on http://127.0.0.1:{sockets[0].getsockname()[1]}/", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    server.stop()


def run_from_command_line(serve: Callable[[int], Awaitable[None]], description: str) -> None:
    """``python bench/peer_….py [--port N]``: run ``serve(port)`` until signalled."""
    parser = argparse.ArgumentParser(description=description.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    asyncio.run(serve(parser.parse_args().port))
