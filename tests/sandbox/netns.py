"""A network namespace of a test's own, with test hosts in it, and a thread running the proxy.

The namespace is held by a ``sleep`` process (``unshare --net``), so it
leaves no mount behind and disappears with that process; a veth pair joins
it to the node, with IPv4 and unique-local IPv6 addresses at both ends.
Inside, on every address the namespace has, run the web test host (80, 443
and 8443) and a DNS recorder; extra addresses (a private one, the cloud
metadata one, a public one) are routed from the node into it, so that every
destination is a real listener that logs each connection, and a refusal is a
listener that saw nothing.
"""
from __future__ import annotations

import asyncio
import ipaddress
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

T = TypeVar("T")
SERVERS = Path(__file__).with_name("netns_servers.py")
READY_TIMEOUT = 30.0


def sh(*argv: str) -> str:
    """Run a command; its output, or CalledProcessError with its stderr."""
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def _free_subnet_index() -> int:
    """An ``n`` so that none of 10.252.n.0/24, 10.99.n.7 and 192.88.99.n is routed here yet."""
    routes = sh("ip", "-4", "route", "show", "table", "all")
    start = os.getpid() % 200 + 20
    for offset in range(200):
        n = (start + offset) % 230 + 20
        if not any(prefix in routes for prefix in (f"10.252.{n}.", f"10.99.{n}.", f"192.88.99.{n} ")):
            return n
    raise RuntimeError("no free 10.252.n.0/24 for a test network")


class HostProcess:
    """A test host process whose output lines are collected by a thread."""

    def __init__(self, argv: Sequence[str]) -> None:
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert self.process.stdout is not None
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()
        self._wait_for("READY")

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line.rstrip("\n"))

    def _wait_for(self, wanted: str) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"test host did not say {wanted}: {self.seen}") from None
            self.seen.append(line)
            if line == wanted:
                return

    def events(self) -> list[str]:
        """Every line printed so far."""
        while True:
            try:
                self.seen.append(self.lines.get_nowait())
            except queue.Empty:
                return list(self.seen)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class ScratchNetwork:
    """One namespace joined to the node by a veth pair, with its addresses and routes."""

    index: int
    holder: subprocess.Popen[bytes]
    routes: list[str] = field(default_factory=list)
    hosts: list[HostProcess] = field(default_factory=list)

    @property
    def host_interface(self) -> str:
        return f"egt{self.index}-{os.getpid() % 100000}h"

    @property
    def node_address(self) -> str:
        """The node's end of the veth pair: one of the node's own addresses."""
        return f"10.252.{self.index}.1"

    @property
    def host_address(self) -> str:
        """The test host: an admitted address (``subnet``) outside the node."""
        return f"10.252.{self.index}.2"

    @property
    def subnet(self) -> str:
        return f"10.252.{self.index}.0/24"

    @property
    def private_address(self) -> str:
        """A private address routed into the namespace, never admitted."""
        return f"10.99.{self.index}.7"

    @property
    def public_address(self) -> str:
        """A public address (6to4 relay anycast, retired) routed into the namespace: never refused."""
        return f"192.88.99.{self.index}"

    @property
    def host_address6(self) -> str:
        """The test host's IPv6 address: unique-local (fc00::/7), so refused unless admitted."""
        return f"fd99:252:{self.index}::2"

    @property
    def node_address6(self) -> str:
        return f"fd99:252:{self.index}::1"

    metadata_address: str = "169.254.169.254"
    """The cloud metadata address; another link-local one if a concurrent test holds its route."""

    def run(self, *argv: str) -> list[str]:
        """``argv`` to run inside the namespace."""
        return ["nsenter", f"--net=/proc/{self.holder.pid}/ns/net", "--", *argv]

    @classmethod
    def create(cls) -> ScratchNetwork:
        index = _free_subnet_index()
        holder = subprocess.Popen(["unshare", "--net", "--", "sleep", "infinity"])
        network = cls(index=index, holder=holder)
        try:
            network._wire()
        except BaseException:
            network.destroy()
            raise
        return network

    def _wire(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        own = os.readlink("/proc/self/ns/net")
        while os.readlink(f"/proc/{self.holder.pid}/ns/net") == own:
            assert time.monotonic() < deadline, "unshare did not make a network namespace"
            time.sleep(0.01)
        inner = f"egt{self.index}-{os.getpid() % 100000}n"
        sh("ip", "link", "add", self.host_interface, "type", "veth", "peer", "name", inner)
        sh("ip", "link", "set", inner, "netns", str(self.holder.pid))
        sh("ip", "addr", "add", f"{self.node_address}/24", "dev", self.host_interface)
        sh("ip", "link", "set", self.host_interface, "up")
        sh(*self.run("ip", "link", "set", "lo", "up"))
        sh(*self.run("ip", "addr", "add", f"{self.host_address}/24", "dev", inner))
        sh(*self.run("ip", "link", "set", inner, "up"))
        sh("ip", "-6", "addr", "add", f"{self.node_address6}/64", "dev", self.host_interface, "nodad")
        sh(*self.run("ip", "-6", "addr", "add", f"{self.host_address6}/64", "dev", inner, "nodad"))
        self._route_in(self.private_address)
        self._route_in(self.public_address)
        deadline = time.monotonic() + 20
        while not self._route_in(self.metadata_address, may_be_taken=True):
            if time.monotonic() > deadline:
                self.metadata_address = f"169.254.{self.index}.254"
                self._route_in(self.metadata_address)
                break
            time.sleep(0.5)

    def _route_in(self, address: str, may_be_taken: bool = False) -> bool:
        """Route ``address`` from the node into the namespace; False if ``may_be_taken`` and it was."""
        added = subprocess.run(["ip", "route", "add", f"{address}/32", "via", self.host_address,
                                "dev", self.host_interface], capture_output=True, text=True)
        if added.returncode != 0:
            if may_be_taken and "File exists" in added.stderr:
                return False
            raise AssertionError(f"cannot route {address} into the test namespace: {added.stderr}")
        self.routes.append(address)
        sh(*self.run("ip", "addr", "add", f"{address}/32", "dev", "lo"))
        through = sh("ip", "route", "get", address)
        assert f"dev {self.host_interface}" in through, f"{address} is not routed into the namespace: {through}"
        return True

    def start_host(self, *arguments: str) -> HostProcess:
        """Run ``netns_servers.py`` with ``arguments`` in the namespace; returns once it listens."""
        host = HostProcess(self.run(sys.executable, str(SERVERS), *arguments))
        self.hosts.append(host)
        return host

    def destroy(self) -> None:
        """Stop the hosts, remove the routes, end the namespace (which takes the veth pair with it)."""
        for host in self.hosts:
            host.stop()
        for address in self.routes:
            subprocess.run(["ip", "route", "del", f"{address}/32", "dev", self.host_interface],
                           capture_output=True)
        self.holder.terminate()
        self.holder.wait()
        deadline = time.monotonic() + READY_TIMEOUT
        while Path(f"/sys/class/net/{self.host_interface}").exists():
            assert time.monotonic() < deadline, f"{self.host_interface} outlived its namespace"
            time.sleep(0.05)


def make_certificate(directory: Path, names: Sequence[str], address: str) -> tuple[Path, Path]:
    """A self-signed certificate (it is its own CA) for ``names`` and ``address``; (cert, key)."""
    cert, key = directory / "host.pem", directory / "host.key"
    ipaddress.ip_address(address)
    san = ",".join([*(f"DNS:{name}" for name in names), f"IP:{address}"])
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={names[0]}",
       "-addext", f"subjectAltName={san}", "-keyout", str(key), "-out", str(cert))
    return cert, key


class LoopThread:
    """An asyncio loop on a thread of its own, so that sync tests can drive async code on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


def require_tools() -> list[str]:
    """The commands these tests need that are missing here."""
    return [tool for tool in ("squid", "unshare", "nsenter", "ip", "openssl", "curl")
            if shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin") is None]
