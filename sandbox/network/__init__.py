"""Users' programs in their own network namespaces, behind one nftables table per server.

The egress proxy (for free accounts, and for everyone who asks for it by
the proxy variables) listens on the gateway this package sets up.
"""
from sandbox.network.addresses import DEFAULT_POOL, NetworkError
from sandbox.network.isolation import NetworkIsolation, NetworkSettings, start_network
from sandbox.network.policy import DEFAULT_ALLOW_LIST_PORT, DEFAULT_OPEN_PORT, EgressPolicy, has_direct_egress

__all__ = ["DEFAULT_ALLOW_LIST_PORT", "DEFAULT_OPEN_PORT", "DEFAULT_POOL", "EgressPolicy", "NetworkError",
           "NetworkIsolation", "NetworkSettings", "has_direct_egress", "start_network"]
