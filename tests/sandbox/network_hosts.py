"""Network fixtures for tests: pools no other server uses, and test hosts in
namespaces of the test's own, the only machines tests may send packets to.

A :class:`NetHost` is a network namespace with a veth to the node and a
tiny HTTP server (plus a TCP echo service) on every address it is given.
Packets from one pool (the test server's users) to those addresses are
routed to it by a table and a rule of its own, so that other tests on the
machine may route the same addresses elsewhere at the same time; the test
checks with ``ip route get`` that they lead there before any console is
told to connect.  So a public-looking address (TEST-NET-3) plays the
internet, and 169.254.169.254 plays the cloud's metadata service.
"""
from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tests.sandbox.leftovers import TEST_NETWORK_TAG, TEST_UID_PREFIX

HTTP_PORT = 8080
ECHO_PORT = 7007
FORWARDING = Path("/proc/sys/net/ipv4/ip_forward")

_ECHO = f"""
import socket, threading
server = socket.socket(); server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", {ECHO_PORT})); server.listen(16)
def serve(conn):
    with conn:
        while data := conn.recv(4096):
            conn.sendall(data)
while True:
    threading.Thread(target=serve, args=(server.accept()[0],), daemon=True).start()
"""


def ip(*args: str) -> str:
    return subprocess.run(["ip", *args], check=True, capture_output=True, text=True).stdout


def _used_networks() -> list[ipaddress.IPv4Network]:
    used = []
    for route in json.loads(ip("-j", "-4", "route", "show", "table", "all") or "[]"):
        dst = route.get("dst", "default")
        if dst != "default" and ":" not in dst:
            used.append(ipaddress.IPv4Network(dst if "/" in dst else f"{dst}/32", strict=False))
    return used


def free_pool() -> str:
    """A /16 for a test server's users that no route or address of the node touches."""
    used = _used_networks()
    start = os.getpid() % 40
    for step in range(40):
        pool = ipaddress.IPv4Network(f"10.{200 + (start + step) % 40}.0.0/16")
        if not any(pool.overlaps(net) for net in used):
            return str(pool)
    raise RuntimeError("no free 10.200-239.0.0/16 pool for a test server")


def route_device(address: str, source: str, arriving_on: str) -> str:
    """The interface the node forwards a packet from ``source`` to ``address`` out of."""
    return json.loads(ip("-j", "route", "get", address, "from", source, "iif", arriving_on))[0]["dev"]


class NetHost:
    """A namespace of the test's own serving HTTP ("<name>-ANSWER") and TCP echo on ``addresses``."""

    def __init__(self, key: str, addresses: Sequence[str], sources: str,
                 from_node: Sequence[str] = ()) -> None:
        """``from_node``: those of ``addresses`` the node itself (the egress proxy) reaches too."""
        self.name = f"{TEST_UID_PREFIX}host-{key}-{os.getpid()}"
        self.node_interface = f"{TEST_NETWORK_TAG}x{key[:2]}{os.getpid() % 100000}"
        self.node_address = f"10.253.{os.getpid() % 250}.{1 + sum(map(ord, key)) % 250}"
        self.sources = sources
        self.from_node = list(from_node)
        self.table = str(100000 + int(hashlib.sha256(self.name.encode()).hexdigest(), 16) % 1000000)
        self.addresses = list(addresses)
        self.answer = f"{key}-ANSWER"
        self._servers: list[subprocess.Popen[bytes]] = []
        self._guards: list[str] = []
        self._directory = Path(f"/tmp/{self.name}")

    def start(self) -> NetHost:
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> NetHost:
        ip("netns", "add", self.name)
        ip("link", "add", self.node_interface, "type", "veth", "peer", "name", "eth0", "netns", self.name)
        ip("addr", "add", f"{self.node_address}/32", "dev", self.node_interface)
        ip("link", "set", self.node_interface, "up")
        inside = ["ip", "-n", self.name]
        for command in (["link", "set", "lo", "up"], ["link", "set", "eth0", "up"],
                        ["route", "add", f"{self.node_address}/32", "dev", "eth0"],
                        ["route", "add", "default", "via", self.node_address, "dev", "eth0"]):
            subprocess.run([*inside, *command], check=True)
        ip("rule", "add", "from", self.sources, "lookup", self.table, "priority", "1000")
        for address in self.addresses:
            subprocess.run([*inside, "addr", "add", f"{address}/32", "dev", "eth0"], check=True)
            ip("route", "add", f"{address}/32", "dev", self.node_interface, "table", self.table)
            source = str(ipaddress.IPv4Network(self.sources).network_address + 2)
            assert route_device(address, source, self.node_interface) == self.node_interface, \
                f"{address} is not routed to the test host"
            # Anything else on the node (a console sharing its network) is refused
            # rather than sent to the default route, unless another test routes it.
            if not ip("route", "show", "exact", f"{address}/32").strip():
                if address in self.from_node:
                    ip("route", "add", f"{address}/32", "dev", self.node_interface)
                else:
                    ip("route", "add", "prohibit", f"{address}/32")
                self._guards.append(address)
        self._directory.mkdir(exist_ok=True)
        (self._directory / "index.html").write_text(self.answer + "\n")
        run_inside = ["ip", "netns", "exec", self.name, sys.executable]
        self._servers = [
            subprocess.Popen([*run_inside, "-m", "http.server", str(HTTP_PORT), "--bind", "0.0.0.0",
                              "--directory", str(self._directory)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
            subprocess.Popen([*run_inside, "-c", _ECHO], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        ]
        self._wait_listening()
        return self

    def _wait_listening(self) -> None:
        for _ in range(200):
            listening = subprocess.run(["ip", "netns", "exec", self.name, "ss", "-Hltn"],
                                       capture_output=True, text=True).stdout
            if f":{HTTP_PORT} " in listening and f":{ECHO_PORT} " in listening:
                return
            time.sleep(0.05)  # outside any event loop: the servers are starting
        raise RuntimeError(f"the test host {self.name} did not start listening")

    def stop(self) -> None:
        for server in self._servers:
            server.kill()
            server.wait()
        subprocess.run(["ip", "rule", "del", "from", self.sources, "lookup", self.table, "priority", "1000"],
                       capture_output=True)
        subprocess.run(["ip", "route", "flush", "table", self.table], capture_output=True)
        for address in self._guards:
            subprocess.run(["ip", "route", "del", f"{address}/32"], capture_output=True)
        subprocess.run(["ip", "link", "del", self.node_interface], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
        (self._directory / "index.html").unlink(missing_ok=True)
        if self._directory.exists():
            self._directory.rmdir()
