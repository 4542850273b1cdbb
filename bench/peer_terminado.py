"""terminado as its documentation sets it up: the peer the benchmark compares with.

    .venv/bin/python bench/peer_terminado.py [--port 0]

``/unique`` is a ``UniqueTermManager`` (a new bash per WebSocket, hung up
when the socket closes); ``/shared`` is a ``SingleTermManager`` (one bash
for every WebSocket, for fan-out).  Nothing is tuned or patched.
"""
from __future__ import annotations

import asyncio

import tornado.web
from peer_serving import run_from_command_line, serve_until_signalled
from terminado.management import SingleTermManager, UniqueTermManager
from terminado.websocket import TermSocket


async def serve(port: int) -> None:
    unique = UniqueTermManager(shell_command=["bash"])
    single = SingleTermManager(shell_command=["bash"])
    app = tornado.web.Application([
        (r"/unique", TermSocket, {"term_manager": unique}),
        (r"/shared", TermSocket, {"term_manager": single}),
    ])
    await serve_until_signalled(app, port)
    await asyncio.gather(unique.shutdown(), single.shutdown())


if __name__ == "__main__":
    run_from_command_line(serve, __doc__)
