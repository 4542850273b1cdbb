"""Users' network namespaces: made with iproute2, kept in /run/netns.

A namespace is named after its user's Unix account and outlives the
programs in it (``ip netns add`` bind-mounts it), so every console, task
and web app of the user shares one, and a restarted server finds it again.
Inside: ``lo`` (the namespace's own loopback) and ``eth0`` with the user's
/32, a link route to the gateway and a default route through it.  On the
node: the other end of the veth and a /32 route to the user's address; no
IPv6 on it, so the namespace's link-local address has no one to talk to.
"""
from __future__ import annotations

import ipaddress
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sandbox.network.addresses import NetworkError

NETNS_DIR = Path("/run/netns")


@dataclass(frozen=True)
class UserNetwork:
    """Where a user's programs live on the network."""

    name: str
    """The namespace's name (``/run/netns/<name>``), the user's Unix account."""
    interface: str
    """The node's end of the user's veth."""
    address: ipaddress.IPv4Address

    @property
    def path(self) -> Path:
        return NETNS_DIR / self.name


def ip(*args: str, batch: str | None = None) -> str:
    """Run iproute2; NetworkError with its own words on failure."""
    argv = ["ip", *args] if batch is None else ["ip", *args, "-batch", "-"]
    try:
        result = subprocess.run(argv, input=batch, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NetworkError(f"ip could not run: {exc} (install the iproute2 package)") from None
    if result.returncode != 0:
        raise NetworkError(f"ip {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def exists(network: UserNetwork) -> bool:
    """Both the namespace and the node's end of its veth are there (a previous run's)."""
    return network.path.exists() and link_exists(network.interface)


def create(network: UserNetwork) -> None:
    """The namespace and its veth, both ends down; a half-made leftover is replaced."""
    remove(network)
    ip(batch=f"netns add {network.name}\n"
             f"link add {network.interface} type veth peer name eth0 netns {network.name}\n")
    # Before the link comes up, so it never gets an IPv6 link-local address.
    Path("/proc/sys/net/ipv6/conf", network.interface, "disable_ipv6").write_text("1")


def bring_up(network: UserNetwork, gateway: ipaddress.IPv4Address) -> None:
    """Addresses and routes on both sides (call once the firewall knows the interface)."""
    ip(batch=f"link set {network.interface} up\n"
             f"route replace {network.address}/32 dev {network.interface}\n")
    ip("-n", network.name, batch=f"link set lo up\n"
                                 f"addr add {network.address}/32 dev eth0\n"
                                 f"link set eth0 up\n"
                                 f"route add {gateway}/32 dev eth0\n"
                                 f"route add default via {gateway} dev eth0\n")


def remove(network: UserNetwork) -> None:
    """Delete the veth (both ends, even with programs still inside) and the namespace's name."""
    if link_exists(network.interface):
        ip("link", "delete", network.interface)
    if network.path.exists():
        ip("netns", "delete", network.name)


def existing(prefix: str) -> list[str]:
    """Names of the namespaces in /run/netns starting with ``prefix``."""
    try:
        return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(prefix))
    except FileNotFoundError:
        return []


def node_addresses() -> list[tuple[str, ipaddress.IPv4Interface]]:
    """(interface, address) of every IPv4 address of the node."""
    found = []
    for link in json.loads(ip("-j", "-4", "addr", "show") or "[]"):
        for info in link.get("addr_info", []):
            found.append((link["ifname"], ipaddress.IPv4Interface(f"{info['local']}/{info['prefixlen']}")))
    return found
