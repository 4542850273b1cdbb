"""Server CPU to send one console frame to one WebSocket viewer, three ways.

    .venv/bin/python bench/ws_frames.py [--viewers 100] [--messages 400] [--rounds 5]

* ``write_message``: Tornado's public path (frames and encodes the text per
  viewer, a Future and a scheduled callback per write);
* ``stream.write``: the frame built once per message
  (``consoles.sockjs_adapter.text_frame``), written through each ``IOStream``;
* ``write_text_frame``: what the console stream does
  (``consoles.sockjs_adapter.write_text_frame``): the frame built once and, with
  nothing queued before it, sent straight to the socket.

The server runs in this process on 127.0.0.1; the viewers read in a child
process, so their CPU is not counted.  Rounds alternate between the ways;
the median per way is printed in µs per viewer per frame.
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import tornado.web
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port
from tornado.websocket import WebSocketHandler, websocket_connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from consoles import sockjs_adapter  # noqa: E402

WAYS = ("write_message", "stream.write", "write_text_frame")


class Viewer(WebSocketHandler):
    def initialize(self, viewers: list[Viewer]) -> None:
        self.viewers = viewers

    def open(self) -> None:
        self.viewers.append(self)


def _read_all(port: int, count: int) -> None:
    async def read(connection: Any) -> None:
        while await connection.read_message() is not None:
            pass

    async def main() -> None:
        connections = [await websocket_connect(f"ws://127.0.0.1:{port}/") for _ in range(count)]
        await asyncio.gather(*(read(connection) for connection in connections))

    asyncio.run(main())


def _send(way: str, viewer: Viewer, message: str) -> None:
    if way == "write_message":
        viewer.write_message(message)
    elif way == "stream.write":
        viewer.ws_connection.stream.write(sockjs_adapter.text_frame(message))
    else:
        sockjs_adapter.write_text_frame(viewer, message)


async def _round(way: str, viewers: list[Viewer], messages: int) -> float:
    line = "x" * 60 + "\r\n"
    start = time.process_time()
    for number in range(messages):
        message = f'["stdout","{number} {line}"]'
        for viewer in viewers:
            _send(way, viewer, message)
        await asyncio.sleep(0.001)  # output comes in bursts; let the writes finish
    while any(viewer.ws_connection.stream.writing() for viewer in viewers):
        await asyncio.sleep(0.001)
    return (time.process_time() - start) / (messages * len(viewers)) * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--viewers", type=int, default=100)
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    viewers: list[Viewer] = []
    sock, port = bind_unused_port()
    server = HTTPServer(tornado.web.Application([(r"/", Viewer, {"viewers": viewers})]))
    server.add_sockets([sock])
    spawn = multiprocessing.get_context("spawn")
    reader = spawn.Process(target=_read_all, args=(port, args.viewers))
    reader.start()
    while len(viewers) < args.viewers:
        await asyncio.sleep(0.01)
    results: dict[str, list[float]] = {way: [] for way in WAYS}
    for _ in range(args.rounds):
        for way in WAYS:
            results[way].append(await _round(way, viewers, args.messages))
    for viewer in viewers:
        viewer.close()
    reader.join(30)
    server.stop()
    print(f"{args.viewers} viewers, {args.messages} frames a round, {args.rounds} rounds "
          f"(median µs of server CPU per viewer per frame):")
    for way in WAYS:
        print(f"  {way:18} {statistics.median(results[way]):6.2f}")


if __name__ == "__main__":
    asyncio.run(main())
