"""The address plan of users' network namespaces: one pool per server.

The first host of the pool is the node's *gateway* (on a dummy interface,
so the egress proxy can bind it before any user exists); every Unix user
gets the address ``pool + 2 + uid`` inside their namespace, so the address
follows from the uid alone: no state to keep, the same on every restart,
and two users can never share one.
"""
from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass

from sandbox.errors import SandboxError

DEFAULT_POOL = "10.251.0.0/16"
MAX_IFNAME = 15
"""Linux interface names are at most 15 bytes."""

_PREFIX_CHARS = re.compile(r"[^a-z0-9]")


class NetworkError(SandboxError):
    """Setting up a user's network failed; the message says what to do."""


def parse_pool(cidr: str) -> ipaddress.IPv4Network:
    """An IPv4 network able to hold a gateway and users, or ValueError saying why not."""
    try:
        pool = ipaddress.IPv4Network(cidr, strict=True)
    except ValueError as exc:
        raise ValueError(f"{cidr!r} is not an IPv4 network such as {DEFAULT_POOL}: {exc}") from None
    if pool.prefixlen > 24:
        raise ValueError(f"{cidr} is too small for users' namespaces: use a /24 or larger")
    return pool


@dataclass(frozen=True)
class AddressPlan:
    """Names and addresses for one server's users' namespaces.

    ``tag`` (a few letters from the uid prefix) starts every interface
    name, so an operator sees whose they are; the node side of a user's
    veth is ``<tag>v<uid>`` and their namespace is their Unix account's name.
    """

    pool: ipaddress.IPv4Network
    tag: str
    server_key: str
    """Unique per server on a node (from the uid prefix and cgroup base): names the
    nftables table and the gateway's dummy interface."""

    @classmethod
    def for_server(cls, pool: str, uid_prefix: str, cgroup_base: str) -> AddressPlan:
        tag = _PREFIX_CHARS.sub("", uid_prefix.lower())[:4] or "ide"
        key = hashlib.sha256(f"{uid_prefix}\0{cgroup_base}".encode()).hexdigest()[:8]
        return cls(pool=parse_pool(pool), tag=tag, server_key=key)

    @property
    def gateway(self) -> ipaddress.IPv4Address:
        return self.pool.network_address + 1

    @property
    def gateway_interface(self) -> str:
        return f"{self.tag}g{self.server_key}"[:MAX_IFNAME]

    @property
    def table(self) -> str:
        """The nftables table (family inet) holding this server's rules."""
        return f"{self.tag}_net_{self.server_key}"

    def address_for(self, uid: int) -> ipaddress.IPv4Address:
        index = uid + 2
        if index >= self.pool.num_addresses - 1:
            raise NetworkError(f"uid {uid} has no address in {self.pool}: give the server a larger "
                               "--sandbox-network")
        return self.pool.network_address + index

    def veth_for(self, uid: int) -> str:
        name = f"{self.tag}v{uid}"
        if len(name) > MAX_IFNAME:
            raise NetworkError(f"uid {uid} is too large for an interface name")
        return name
