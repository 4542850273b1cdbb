"""One server's network isolation: the gateway, the firewall and users' namespaces.

Every blocking call here (iproute2, nft) runs on the sandbox's worker
threads, never on the event loop.  A user's namespace is made on their
first spawn and reused by every later one, so only that first spawn pays
for it (a few milliseconds); the rest only ``setns`` in the child.
"""
from __future__ import annotations

import logging
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.errors import NetworkIsolationUnavailable
from sandbox.network import namespaces
from sandbox.network.addresses import DEFAULT_POOL, AddressPlan, NetworkError
from sandbox.network.firewall import Firewall
from sandbox.network.namespaces import UserNetwork
from sandbox.network.policy import NO_PROXY, EgressPolicy, has_direct_egress

log = logging.getLogger(__name__)

TOOLS = ("ip", "nft")
"""What users' namespaces and the firewall are made with (the egress proxy checks for Squid)."""
_FORWARDING = Path("/proc/sys/net/ipv4/ip_forward")


@dataclass(frozen=True)
class NetworkSettings:
    """What the operator chose: the pool (``--sandbox-network``) and the egress policy."""

    pool: str = DEFAULT_POOL
    policy: EgressPolicy = field(default_factory=EgressPolicy)


def missing_tools() -> list[str]:
    return [name for name in TOOLS
            if not (shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin:/bin"))]


class NetworkIsolation:
    """Puts each user's programs in their own network namespace, behind the server's firewall."""

    def __init__(self, settings: NetworkSettings, *, uid_prefix: str, cgroup_base: str) -> None:
        self.plan = AddressPlan.for_server(settings.pool, uid_prefix, cgroup_base)
        self.policy = settings.policy
        self.firewall = Firewall(self.plan, settings.policy)
        self._guard = threading.Lock()
        self._networks: dict[str, UserNetwork] = {}
        self._paying: dict[str, bool] = {}

    # -- the server's part ---------------------------------------------------

    def start(self) -> None:
        """Gateway, firewall and a probe namespace, or NetworkError saying what is missing."""
        missing = missing_tools()
        if missing:
            raise NetworkError(f"missing programs: {', '.join(missing)} (install iproute2 and nftables)")
        for device, address in namespaces.node_addresses():
            if device != self.plan.gateway_interface and address.network.overlaps(self.plan.pool):
                raise NetworkError(f"the node's address {address} on {device} lies in {self.plan.pool}: "
                                   "give this server its own --sandbox-network")
        self.firewall.apply()
        self._make_gateway()
        probe = f"{self.plan.gateway_interface}-probe"
        namespaces.ip(batch=f"netns add {probe}\nnetns delete {probe}\n")

    def _make_gateway(self) -> None:
        device, gateway = self.plan.gateway_interface, self.plan.gateway
        if not namespaces.link_exists(device):
            try:
                namespaces.ip("link", "add", device, "type", "dummy")
            except NetworkError:
                # Kernels without the dummy driver: a bridge without ports holds an address as well.
                namespaces.ip("link", "add", device, "type", "bridge")
            namespaces.ip(batch=f"addr add {gateway}/32 dev {device}\nlink set {device} up\n")
        elif not any(d == device and a.ip == gateway for d, a in namespaces.node_addresses()):
            namespaces.ip(batch=f"addr replace {gateway}/32 dev {device}\nlink set {device} up\n")

    def proxy_environment(self) -> dict[str, str]:
        """What programs are told about the proxy: the gateway's allow-list port
        (redirected to the open port for paying users by the firewall)."""
        url = f"http://{self.plan.gateway}:{self.policy.allow_list_port}"
        return {"http_proxy": url, "https_proxy": url, "HTTP_PROXY": url, "HTTPS_PROXY": url,
                "no_proxy": NO_PROXY, "NO_PROXY": NO_PROXY}

    @property
    def summary(self) -> str:
        return (f"a private network namespace per user ({self.plan.pool}, gateway {self.plan.gateway}; "
                f"proxy ports {self.policy.allow_list_port} and {self.policy.open_port})")

    # -- users ------------------------------------------------------------------

    def network_for(self, unix_name: str, uid: int, account_type: str) -> UserNetwork:
        """The user's namespace, made (or found again, after a restart) on first use.

        Its class comes from ``account_type`` then, unless a change of type was
        heard first; after that only :meth:`set_account_type` changes it, so a
        spawn that read the type just before a downgrade cannot undo it.  The
        caller holds the user's lock: one namespace is never made twice at once.
        """
        with self._guard:
            known = self._networks.get(unix_name)
            paying = self._paying.setdefault(unix_name, has_direct_egress(account_type))
        if known is not None:
            return known
        network = UserNetwork(name=unix_name, interface=self.plan.veth_for(uid), address=self.plan.address_for(uid))
        if namespaces.exists(network):
            self._admit(network, paying)
        else:
            namespaces.create(network)
            self._admit(network, paying)
            namespaces.bring_up(network, self.plan.gateway)
        with self._guard:
            self._networks[unix_name] = network
        return network

    def set_account_type(self, unix_name: str, account_type: str) -> None:
        """Give the user's namespace, if there is one, the egress of their new account
        type at once; remembered for the namespace's making otherwise."""
        paying = has_direct_egress(account_type)
        with self._guard:
            network = self._networks.get(unix_name)
            self._paying[unix_name] = paying
        if network is not None:
            self._admit(network, paying)

    def _admit(self, network: UserNetwork, paying: bool) -> None:
        if paying:
            _enable_forwarding()
        self.firewall.admit(network.interface, paying)

    def remove(self, unix_name: str) -> None:
        """Delete the user's namespace and veth (their programs are gone)."""
        with self._guard:
            network = self._networks.pop(unix_name, None)
            self._paying.pop(unix_name, None)
        if network is not None:
            namespaces.remove(network)
            self.firewall.forget(network.interface)

    def close(self, busy: set[str]) -> bool:
        """Remove the namespaces of users without processes (``busy``: Unix names that
        still have some); with none left, the table and the gateway go too.  True then."""
        with self._guard:
            idle = [name for name in self._networks if name not in busy]
        for name in idle:
            self.remove(name)
        with self._guard:
            if self._networks:
                return False
        self.firewall.remove()
        if namespaces.link_exists(self.plan.gateway_interface):
            namespaces.ip("link", "delete", self.plan.gateway_interface)
        return True


def _enable_forwarding() -> None:
    """Paying users' direct egress is routed by the node: IPv4 forwarding must be on."""
    if _FORWARDING.read_text().strip() != "1":
        _FORWARDING.write_text("1")
        log.warning("turned on IPv4 forwarding (net.ipv4.ip_forward=1) for paying users' direct egress")


def start_network(settings: NetworkSettings, uid_prefix: str, cgroup_base: str) -> NetworkIsolation:
    """A server's network isolation, set up; NetworkIsolationUnavailable saying why not."""
    network = NetworkIsolation(settings, uid_prefix=uid_prefix, cgroup_base=cgroup_base)
    try:
        network.start()
    except NetworkError as exc:
        raise NetworkIsolationUnavailable(f"network isolation is not possible here: {exc} "
                                          "(run `ide sandbox check` for details)") from None
    return network
