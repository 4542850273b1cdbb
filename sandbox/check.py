"""``ide sandbox check``: what this host offers and what the server will use.

Looks only: nothing is created, so it is safe to run next to a live server.
"""
from __future__ import annotations

import os
from pathlib import Path

from sandbox.cgroups import V2_CONTROLLERS
from sandbox.host import HostCapabilities, detect_host
from sandbox.network import DEFAULT_POOL
from sandbox.network.addresses import AddressPlan
from sandbox.network.check import network_lines, network_problem
from sandbox.status import SandboxStatus, full_status, limited_status


def planned_status(isolation: str, host: HostCapabilities, network: str | None = None) -> SandboxStatus:
    """The status a sandbox made now would report (barring cgroup set-up failures);
    ``network`` describes users' network namespaces when they will have them."""
    problems = host.full_isolation_problems
    if isolation in ("off", "rlimits") or problems or host.layout is None:
        return limited_status(isolation, host.user, problems if isolation in ("auto", "full") else ())
    controllers = host.layout.controllers
    if host.layout.version == 2:
        controllers &= V2_CONTROLLERS
    return full_status(isolation, host.user, host.layout.version, controllers, network)


def _cgroup_lines(host: HostCapabilities, cgroup_base: str) -> list[str]:
    layout = host.layout
    if layout is None:
        return ["cgroups:     none mounted"]
    kind = "v2" if layout.version == 2 else "v1 (one hierarchy per controller)"
    lines = [f"cgroups:     {kind}"]
    for hierarchy in layout.hierarchies:
        writable = not hierarchy.read_only and os.access(hierarchy.own, os.W_OK)
        controllers = ",".join(sorted(hierarchy.controllers)) or "(no controllers)"
        lines.append(f"  {controllers:<16} own group {hierarchy.own}  "
                     f"{'writable' if writable else 'NOT writable'}; users under {hierarchy.own / cgroup_base}")
    if host.cgroup_problem:
        lines.append(f"  problem: {host.cgroup_problem}")
    return lines


def report(homes_dir: Path | None = None, *, isolation: str = "auto", cgroup_base: str = "ide",
           host: HostCapabilities | None = None, pool: str = DEFAULT_POOL) -> str:
    """A multi-line account of the host's isolation features and the plan."""
    host = host or detect_host()
    privilege = "" if host.is_root else "; not root: no uid switching, no cgroups"
    lines = [f"running as:  {host.user} (uid {host.uid}){privilege}"]
    lines += _cgroup_lines(host, cgroup_base)
    tools = ", ".join(f"{name} {path or 'MISSING'}" for name, path in host.tools.items())
    lines.append(f"programs:    {tools}")
    if not host.is_root:
        lines.append("namespaces:  not tried (PID and mount namespaces need root)")
    elif host.namespace_problem:
        lines.append(f"namespaces:  {host.namespace_problem}")
    else:
        lines.append("namespaces:  PID and mount namespaces work")
    net_problem = network_problem(host.is_root, host.tools.get("unshare"))
    lines += network_lines(pool, net_problem)
    if homes_dir is not None:
        state = "exists" if homes_dir.is_dir() else "will be created"
        lines.append(f"homes:       {homes_dir} ({state}); seen by users as /home/<name>")
    if host.is_root and isolation == "auto" and host.full_isolation_problems:
        lines.append(f"will use (isolation={isolation}): nothing; as root the server refuses to start "
                     "without full isolation (or runs programs as one unprivileged account with "
                     "--unsafe-no-isolation)")
        return "\n".join(lines)
    if host.is_root and isolation in ("auto", "full") and net_problem:
        lines.append(f"will use (isolation={isolation}): nothing; as root the server refuses to start "
                     "without a network namespace per user (or lets programs share the node's network "
                     "with --unsafe-shared-network)")
        return "\n".join(lines)
    plan = AddressPlan.for_server(pool, "ide-", cgroup_base)
    network = None if net_problem else f"a private network namespace per user ({plan.pool}, gateway {plan.gateway})"
    status = planned_status(isolation, host, network)
    lines.append(f"will use (isolation={isolation}): {status.summary}")
    return "\n".join(lines)
