"""Who may reach what from users' namespaces: the facts the firewall is written from."""
from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

FREE_TYPES = frozenset({"free", "anon"})
"""Account types without direct egress: only the proxy's allow-list port."""

NEVER_DIRECT = (
    "0.0.0.0/8",        # "this network"
    "10.0.0.0/8",       # RFC 1918
    "100.64.0.0/10",    # carrier-grade NAT
    "127.0.0.0/8",      # loopback
    "169.254.0.0/16",   # link-local, cloud metadata (169.254.169.254)
    "172.16.0.0/12",    # RFC 1918
    "192.168.0.0/16",   # RFC 1918
    "224.0.0.0/4",      # multicast
    "240.0.0.0/4",      # reserved, broadcast
)
"""Destinations a paying user's program may not reach directly unless the
operator admits a range (``--egress-allow-cidr``): the node's neighbours,
not the internet."""

DEFAULT_ALLOW_LIST_PORT = 3128
DEFAULT_OPEN_PORT = 3129
NO_PROXY = "localhost,127.0.0.1,::1"


def has_direct_egress(account_type: str) -> bool:
    """Paying accounts (every type but free and anon) reach public addresses directly."""
    return account_type not in FREE_TYPES


def parse_cidr(text: str) -> str:
    """An IPv4 range in canonical form, or ValueError saying what is wrong."""
    try:
        return str(ipaddress.IPv4Network(text, strict=False))
    except ValueError as exc:
        raise ValueError(f"{text!r} is not an IPv4 range such as 192.0.2.0/24: {exc}") from None


def resolvers(resolv_conf: Path = Path("/etc/resolv.conf")) -> tuple[str, ...]:
    """The IPv4 name servers the node uses: paying users may query them on port 53."""
    found = []
    try:
        lines = resolv_conf.read_text().splitlines()
    except OSError:
        return ()
    for line in lines:
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            try:
                found.append(str(ipaddress.IPv4Address(parts[1])))
            except ValueError:
                continue  # IPv6 resolvers: namespaces have no IPv6
    return tuple(dict.fromkeys(found))


@dataclass(frozen=True)
class EgressPolicy:
    """The operator's choices: admitted ranges and the proxy's two ports on the gateway."""

    allowed_cidrs: tuple[str, ...] = ()
    allow_list_port: int = DEFAULT_ALLOW_LIST_PORT
    open_port: int = DEFAULT_OPEN_PORT
    resolvers: tuple[str, ...] = field(default_factory=resolvers)

    @classmethod
    def build(cls, allowed_cidrs: Sequence[str] = (), allow_list_port: int = DEFAULT_ALLOW_LIST_PORT,
              open_port: int = DEFAULT_OPEN_PORT) -> EgressPolicy:
        if allow_list_port == open_port:
            raise ValueError(f"the proxy's two ports must differ (both are {open_port})")
        for port in (allow_list_port, open_port):
            if not 1 <= port <= 65535:
                raise ValueError(f"{port} is not a TCP port")
        return cls(allowed_cidrs=tuple(parse_cidr(c) for c in allowed_cidrs),
                   allow_list_port=allow_list_port, open_port=open_port)
