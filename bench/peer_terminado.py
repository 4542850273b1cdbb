"""terminado as its documentation sets it up: the peer the benchmark compares with.

    /work/venv/bin/python bench/peer_terminado.py [--port 0]

``/unique`` is a ``UniqueTermManager`` (a new bash per WebSocket, hung up
when the socket closes); ``/shared`` is a ``SingleTermManager`` (one bash
for every WebSocket, for fan-out).  Nothing is tuned or patched.
"""
from __future__ import annotations

import argparse
import asyncio
import signal

import tornado.httpserver
import tornado.netutil
import tornado.web
from terminado.management import SingleTermManager, UniqueTermManager
from terminado.websocket import TermSocket


async def serve(port: int) -> None:
    unique = UniqueTermManager(shell_command=["bash"])
    single = SingleTermManager(shell_command=["bash"])
    app = tornado.web.Application([
        (r"/unique", TermSocket, {"term_manager": unique}),
        (r"/shared", TermSocket, {"term_manager": single}),
    ])
    sockets = tornado.netutil.bind_sockets(port, "127.0.0.1")
    server = tornado.httpserver.HTTPServer(app)
    server.add_sockets(sockets)
    print(f"Listening on http://127.0.0.1:{sockets[0].getsockname()[1]}/", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    server.stop()
    await asyncio.gather(unique.shutdown(), single.shutdown())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    asyncio.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
