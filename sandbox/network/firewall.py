"""The nftables table of one server: what users' namespaces may reach.

One table (family ``inet``) per server, named from its uid prefix and
cgroup base so that several servers on one node never touch each other's
rules.  The whole table is written by one ``nft -f`` transaction: applying
it again (a restarted server) replaces the rules and the operator's ranges
atomically but keeps the two membership sets, so running namespaces keep
their class throughout.

Membership decides everything: ``users`` holds the node side of every
user's veth, ``paying`` those with direct egress.  The rules look at the
sets on every packet, not only on a flow's first one, so moving an
interface between classes changes what its running programs can do at
once: an established direct connection is reset by its next packet.
"""
from __future__ import annotations

import subprocess
from collections.abc import Sequence

from sandbox.network.addresses import AddressPlan, NetworkError
from sandbox.network.policy import NEVER_DIRECT, EgressPolicy

_REFUSE = "meta l4proto tcp reject with tcp reset\nreject with icmpx admin-prohibited"


def _elements(values: Sequence[str]) -> str:
    return ", ".join(values)


def ruleset(plan: AddressPlan, policy: EgressPolicy) -> str:
    """The nft script that (re)writes the server's table, keeping set membership."""
    t = f"inet {plan.table}"
    gw = str(plan.gateway)
    lines = [
        f"table {t} {{",
        "  set users { type ifname; }",
        "  set paying { type ifname; }",
        "  set blocked { type ipv4_addr; flags interval; }",
        "  set admitted { type ipv4_addr; flags interval; auto-merge; }",
        "  set resolvers { type ipv4_addr; }",
        "  chain input { type filter hook input priority filter - 5; policy accept; }",
        "  chain forward { type filter hook forward priority filter - 5; policy accept; }",
        "  chain prerouting { type nat hook prerouting priority dstnat; policy accept; }",
        "  chain postrouting { type nat hook postrouting priority srcnat; policy accept; }",
        "  chain to_node { }",
        "  chain out { }",
        "  chain back { }",
        "  chain refuse { }",
        "}",
    ]
    for chain in ("input", "forward", "prerouting", "postrouting", "to_node", "out", "back", "refuse"):
        lines.append(f"flush chain {t} {chain}")
    for name in ("blocked", "admitted", "resolvers"):
        lines.append(f"flush set {t} {name}")
    lines.append(f"add element {t} blocked {{ {_elements(NEVER_DIRECT)} }}")
    if policy.allowed_cidrs:
        lines.append(f"add element {t} admitted {{ {_elements(policy.allowed_cidrs)} }}")
    if policy.resolvers:
        lines.append(f"add element {t} resolvers {{ {_elements(policy.resolvers)} }}")
    rules = {
        "refuse": _REFUSE.splitlines(),
        # Users to the node itself (any of its addresses): only the proxy.
        "input": ["iifname @users jump to_node"],
        "to_node": [
            "meta nfproto ipv6 jump refuse",
            f"ip daddr {gw} tcp dport {policy.allow_list_port} accept",
            f"iifname @paying ip daddr {gw} tcp dport {policy.open_port} accept",
            "jump refuse",
        ],
        # Users to elsewhere: free accounts nothing; paying ones the internet.
        "forward": ["iifname @users jump out", "oifname @users jump back"],
        "out": [
            "meta nfproto ipv6 jump refuse",
            "iifname != @paying jump refuse",
            f"ip daddr {plan.pool} jump refuse",
            "ip daddr @resolvers udp dport 53 accept",
            "ip daddr @resolvers tcp dport 53 accept",
            "ip daddr @admitted accept",
            "ip daddr @blocked jump refuse",
            "accept",
        ],
        # Nobody opens connections into a namespace; replies reach paying users only.
        "back": ["oifname != @paying drop", "ct state established,related accept", "drop"],
        "prerouting": [f"iifname @paying ip daddr {gw} tcp dport {policy.allow_list_port} "
                       f"dnat ip to {gw}:{policy.open_port}"],
        "postrouting": ["iifname @users oifname != @users masquerade"],
    }
    for chain, chain_rules in rules.items():
        lines += [f"add rule {t} {chain} {rule}" for rule in chain_rules]
    return "\n".join(lines) + "\n"


def nft(script: str) -> None:
    """Run one nft transaction (all or nothing); NetworkError with nft's own words."""
    try:
        result = subprocess.run(["nft", "-f", "-"], input=script, capture_output=True, text=True,
                                timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NetworkError(f"nft could not run: {exc} (install the nftables package)") from None
    if result.returncode != 0:
        raise NetworkError(f"nft refused the rules: {result.stderr.strip()}")


class Firewall:
    """The server's table, and the class of each user interface in it."""

    def __init__(self, plan: AddressPlan, policy: EgressPolicy) -> None:
        self.plan = plan
        self.policy = policy

    def apply(self) -> None:
        nft(ruleset(self.plan, self.policy))

    def admit(self, interface: str, paying: bool) -> None:
        """Put ``interface`` in the table's users, with or without direct egress, atomically."""
        t = f"inet {self.plan.table}"
        script = f"add element {t} users {{ {interface} }}\nadd element {t} paying {{ {interface} }}\n"
        if not paying:
            # Added first so the delete always finds it: one transaction, idempotent.
            script += f"delete element {t} paying {{ {interface} }}\n"
        nft(script)

    def forget(self, interface: str) -> None:
        t = f"inet {self.plan.table}"
        nft("".join(f"add element {t} {s} {{ {interface} }}\ndelete element {t} {s} {{ {interface} }}\n"
                    for s in ("users", "paying")))

    def remove(self) -> None:
        """Delete the whole table (nothing left to protect)."""
        nft(f"table inet {self.plan.table} {{ }}\ndelete table inet {self.plan.table}\n")
