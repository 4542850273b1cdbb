"""An HTTP/1.1 load client: keep-alive connections asking for one URL as fast as answers come.

The same client measures every server of ``bench_front.py`` (our front and
nginx on TCP, the app server on its Unix socket), each run in a process of
its own so that it never shares an interpreter with a server.  Each
connection sends a request, waits for the whole answer, and sends the next;
a server that closes the connection after an answer (gunicorn's sync
worker does) gets a new one, whose connect time counts in that request's
latency.  Bounded: it stops at its deadline.

``python -m bench.http_load (--unix PATH | --tcp HOST:PORT) --host NAME [--path /]
[--connections 50] [--seconds 20] [--raw]`` prints one JSON object: requests,
rate, p50/p99/max latency in milliseconds, errors and the answers' status
codes (and with ``--raw`` every latency, so that runs can be merged).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Tally:
    deadline: float
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    bytes: int = 0


class _Answer:
    """Reads one answer off the bytes as they come: status, headers, a body framed by
    Content-Length, chunks, or (without either) the connection's end."""

    def __init__(self) -> None:
        self.buffer = b""
        self.status = 0
        self.keep_alive = True
        self.length: int | None = None
        self.chunked = False
        self.head_done = False

    def feed(self, data: bytes) -> bool | None:
        """True once complete (the rest stays in ``buffer``); None while more is needed."""
        self.buffer += data
        if not self.head_done:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return None
            head, self.buffer = self.buffer[:end].decode("latin-1"), self.buffer[end + 4:]
            lines = head.split("\r\n")
            version, status = lines[0].split(" ", 2)[:2]
            self.status = int(status)
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            connection = headers.get("connection", "").lower()
            self.keep_alive = "close" not in connection and (version == "HTTP/1.1" or "keep-alive" in connection)
            self.chunked = "chunked" in headers.get("transfer-encoding", "").lower()
            if "content-length" in headers:
                self.length = int(headers["content-length"])
            elif not self.chunked:
                self.keep_alive = False
            self.head_done = True
        if self.chunked:
            return self._chunks_done()
        if self.length is not None and len(self.buffer) >= self.length:
            self.buffer = self.buffer[self.length:]
            return True
        return None

    def _chunks_done(self) -> bool | None:
        position = 0
        while True:
            line_end = self.buffer.find(b"\r\n", position)
            if line_end < 0:
                return None
            size = int(self.buffer[position:line_end].split(b";")[0], 16)
            if size == 0:
                if self.buffer.find(b"\r\n", line_end + 2) < 0:
                    return None
                self.buffer = self.buffer[self.buffer.find(b"\r\n", line_end + 2) + 2:]
                return True
            if len(self.buffer) < line_end + 2 + size + 2:
                return None
            position = line_end + 2 + size + 2


class _Connection(asyncio.Protocol):
    def __init__(self, request: bytes, tally: Tally, done: asyncio.Future[None]) -> None:
        self.request = request
        self.tally = tally
        self.done = done
        self.transport: asyncio.Transport | None = None
        self.answer = _Answer()
        self.sent = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, started: float) -> None:
        assert self.transport is not None
        self.sent = started
        self.answer = _Answer()
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.tally.bytes += len(data)
        try:
            complete = self.answer.feed(data)
        except ValueError:
            self._fail()
            return
        if complete:
            self.answer.head_done = False  # nothing owed any more
            now = time.monotonic()
            self.tally.latencies.append(now - self.sent)
            self.tally.statuses[self.answer.status] = self.tally.statuses.get(self.answer.status, 0) + 1
            if not self.answer.keep_alive or now >= self.tally.deadline:
                assert self.transport is not None
                self.transport.close()
                self._end()
            else:
                self.send(now)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.answer.head_done and self.answer.length is None and not self.answer.chunked:
            self.tally.latencies.append(time.monotonic() - self.sent)  # framed by the connection's end
            self.tally.statuses[self.answer.status] = self.tally.statuses.get(self.answer.status, 0) + 1
        elif self.answer.head_done:
            self.tally.errors += 1  # broken off in the middle of an answer
        self._end()

    def _fail(self) -> None:
        self.tally.errors += 1
        if self.transport is not None:
            self.transport.close()

    def _end(self) -> None:
        if not self.done.done():
            self.done.set_result(None)


def _made(connection: _Connection) -> Callable[[], _Connection]:
    return lambda: connection


async def _client(target: tuple[str, str], request: bytes, tally: Tally) -> None:
    loop = asyncio.get_running_loop()
    while time.monotonic() < tally.deadline:
        started = time.monotonic()
        done: asyncio.Future[None] = loop.create_future()
        connection = _Connection(request, tally, done)
        try:
            if target[0] == "unix":
                _, protocol = await loop.create_unix_connection(_made(connection), target[1])
            else:
                host, port = target[1].rsplit(":", 1)
                _, protocol = await loop.create_connection(_made(connection), host, int(port))
        except OSError:
            tally.errors += 1
            await asyncio.sleep(0.01)
            continue
        protocol.send(started)
        await done


async def run(target: tuple[str, str], host: str, path: str, connections: int, seconds: float,
              raw: bool = False) -> dict[str, object]:
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: bench\r\n\r\n".encode()
    tally = Tally(deadline=time.monotonic() + seconds)
    started = time.monotonic()
    await asyncio.gather(*(_client(target, request, tally) for _ in range(connections)))
    elapsed = time.monotonic() - started
    ordered = sorted(tally.latencies)

    def quantile(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")

    figures: dict[str, object] = {
        "requests": len(ordered), "seconds": elapsed, "rate": len(ordered) / elapsed,
        "p50_ms": quantile(0.5), "p99_ms": quantile(0.99), "max_ms": ordered[-1] * 1000 if ordered else None,
        "errors": tally.errors, "statuses": tally.statuses, "bytes": tally.bytes}
    if raw:
        figures["latencies_ms"] = [round(value * 1000, 3) for value in ordered]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--unix")
    where.add_argument("--tcp")
    parser.add_argument("--host", required=True)
    parser.add_argument("--path", default="/")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--raw", action="store_true", help="every latency too, to merge runs")
    args = parser.parse_args()
    target = ("unix", args.unix) if args.unix else ("tcp", args.tcp)
    print(json.dumps(asyncio.run(run(target, args.host, args.path, args.connections, args.seconds, args.raw))))


if __name__ == "__main__":
    main()
