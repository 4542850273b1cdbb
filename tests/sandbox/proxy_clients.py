"""Clients of the egress proxy for tests: curl, raw sockets, and a listener that counts who reached it."""
from __future__ import annotations

import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

TIMEOUT = 30.0


def free_port(address: str = "127.0.0.1") -> int:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family) as probe:
        probe.bind((address, 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Answer:
    status: int
    body: str


def curl(proxy: str, url: str, *options: str, ca: Path | None = None) -> Answer:
    """``url`` fetched by curl through ``proxy`` (no curlrc, no environment proxies)."""
    argv = ["curl", "-q", "-sS", "--max-time", str(int(TIMEOUT)), "--noproxy", "", "-x", proxy,
            "-o", "-", "-w", "\n%{http_code}", *options, *(["--cacert", str(ca)] if ca else []), url]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT + 5,
                            env={"PATH": "/usr/bin:/bin"})
    body, _, code = result.stdout.rpartition("\n")
    return Answer(int(code or 0), body + result.stderr)


def _read_response(connection: socket.socket) -> Answer:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines[0].startswith("HTTP/"):
        return Answer(0, data.decode("latin-1"))
    headers = {name.strip().lower(): value.strip()
               for name, _, value in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    return Answer(int(lines[0].split()[1]), body.decode("utf-8", "replace"))


def exchange(port: int, request: bytes, address: str = "127.0.0.1") -> Answer:
    """Send ``request`` as raw bytes to the proxy; its answer (status 0 if it only closed)."""
    with socket.create_connection((address, port), timeout=TIMEOUT) as connection:
        connection.sendall(request)
        return _read_response(connection)


def connect_request(target: str) -> bytes:
    return f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode()


def get_request(url: str) -> bytes:
    host = url.split("/")[2]
    return f"GET {url} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()


class CountingListener:
    """A TCP listener on the node that counts the connections it accepts."""

    def __init__(self, address: str) -> None:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        self.socket = socket.socket(family)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind((address, 0))
        self.socket.listen(16)
        self.address = address
        self.port: int = self.socket.getsockname()[1]
        self.accepted = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def target(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.accepted += 1
            connection.close()

    def wait_for(self, count: int) -> None:
        """Until ``count`` connections were accepted (AssertionError after ``TIMEOUT``)."""
        deadline = time.monotonic() + TIMEOUT
        while self.accepted < count:
            assert time.monotonic() < deadline, f"{self.target} accepted {self.accepted}, not {count}"
            time.sleep(0.01)

    def close(self) -> None:
        self.socket.shutdown(socket.SHUT_RDWR)
        self.socket.close()
        self._thread.join()


class RssPeak:
    """Samples a process's resident memory on a thread until stopped; keeps the largest."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak
