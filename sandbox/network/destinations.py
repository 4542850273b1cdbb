"""Which addresses the egress proxy refuses to connect to, whatever the port.

Users' programs must not reach the node they run on (its server, Redis, the
proxy itself), the operator's internal network, cloud metadata services or
anything else that is not the public internet. The check is made on the
addresses a name resolves to, so a public name pointing at a private address
(DNS rebinding) is refused too. Operators admit internal ranges (a package
mirror, say) with ``allowed_cidrs``; the node's own addresses stay refused
even inside an admitted range, since they carry the services the sandbox
exists to keep programs away from.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import psutil

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

REFUSED_NETWORKS: tuple[Network, ...] = tuple(ipaddress.ip_network(text) for text in (
    "0.0.0.0/8",          # "this network"; 0.0.0.0 reaches the node itself
    "10.0.0.0/8",         # private (RFC 1918)
    "100.64.0.0/10",      # carrier-grade NAT (RFC 6598)
    "127.0.0.0/8",        # loopback
    "169.254.0.0/16",     # link-local, including cloud metadata at 169.254.169.254
    "172.16.0.0/12",      # private (RFC 1918)
    "192.0.0.0/24",       # IETF protocol assignments
    "192.0.2.0/24",       # documentation (TEST-NET-1), never a public host
    "192.168.0.0/16",     # private (RFC 1918)
    "198.18.0.0/15",      # benchmarking
    "198.51.100.0/24",    # documentation (TEST-NET-2)
    "203.0.113.0/24",     # documentation (TEST-NET-3)
    "224.0.0.0/4",        # multicast
    "240.0.0.0/4",        # reserved, and the broadcast address
    "::/128",             # unspecified
    "::1/128",            # loopback
    "64:ff9b:1::/48",     # local-use NAT64, which maps onto internal IPv4 networks
    "100::/64",           # discard
    "2001:db8::/32",      # documentation
    "fc00::/7",           # unique local
    "fe80::/10",          # link-local
    "ff00::/8",           # multicast
))
"""Destinations that are never the public internet.

IPv4-mapped IPv6 (``::ffff:0:0/96``) is absent on purpose: Squid keeps IPv4
addresses in that form internally, so the IPv4 ranges above already cover a
mapped private address, and listing the whole block would refuse every IPv4 host.
"""


def parse_cidrs(texts: Sequence[str]) -> tuple[Network, ...]:
    """``texts`` as networks; ValueError naming the first bad one (host bits set count as bad)."""
    networks: list[Network] = []
    for text in texts:
        try:
            networks.append(ipaddress.ip_network(text.strip(), strict=True))
        except ValueError as error:
            raise ValueError(f"{text!r} is not a network in CIDR form such as 10.20.0.0/16: {error}") from None
    return tuple(networks)


def node_addresses() -> tuple[Network, ...]:
    """Every address of this node's interfaces right now, each as a one-address network."""
    found: dict[Network, None] = {}
    for entries in psutil.net_if_addrs().values():
        for entry in entries:
            if entry.family.name not in ("AF_INET", "AF_INET6"):
                continue
            address = ipaddress.ip_address(entry.address.split("%", 1)[0])
            found[ipaddress.ip_network(address)] = None
    return tuple(found)

