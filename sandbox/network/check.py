"""What ``ide sandbox check`` says about network isolation: looks, creates nothing."""
from __future__ import annotations

import shutil
import subprocess

from sandbox.network.addresses import AddressPlan
from sandbox.network.isolation import TOOLS, missing_tools
from sandbox.network.policy import DEFAULT_ALLOW_LIST_PORT, DEFAULT_OPEN_PORT

_FORWARDING = "/proc/sys/net/ipv4/ip_forward"


def _run(argv: list[str]) -> str | None:
    """None when ``argv`` succeeds, else why not."""
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    return None if result.returncode == 0 else result.stderr.strip() or f"exit status {result.returncode}"


def network_problem(is_root: bool, unshare: str | None) -> str | None:
    """Why users cannot get their own network namespaces here (None: they can)."""
    if not is_root:
        return "not running as root"
    missing = missing_tools()
    if missing:
        return f"missing programs: {', '.join(missing)} (install iproute2 and nftables)"
    failure = _run(["nft", "list", "tables"])
    if failure:
        return f"nftables unusable: {failure}"
    if unshare is None:
        return "missing program: unshare"
    failure = _run([unshare, "--net", "--", "true"])
    return f"cannot create network namespaces: {failure}" if failure else None


def _which(name: str) -> str:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin") or "MISSING"


def network_lines(pool: str, problem: str | None) -> list[str]:
    tools = ", ".join(f"{name} {_which(name)}" for name in (*TOOLS, "squid"))
    plan = AddressPlan.for_server(pool, "ide-", "ide")
    lines = [f"network:     {tools}; " + (problem or "network namespaces and nftables work")]
    try:
        with open(_FORWARDING) as forwarding:
            forwarding_on = forwarding.read().strip() == "1"
    except OSError:
        forwarding_on = False
    lines.append(f"  users' namespaces in {plan.pool}, gateway {plan.gateway} (egress proxy ports "
                 f"{DEFAULT_ALLOW_LIST_PORT}, {DEFAULT_OPEN_PORT}); IPv4 forwarding "
                 + ("on" if forwarding_on else "off (turned on with the first paying user's namespace)"))
    return lines
