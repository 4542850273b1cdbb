"""``ide sandbox check``: what this host offers and what the server will use.

Looks only: nothing is created, so it is safe to run next to a live server.
"""
from __future__ import annotations

import os
from pathlib import Path

from sandbox.cgroups import V2_CONTROLLERS
from sandbox.host import HostCapabilities, detect_host
from sandbox.status import SandboxStatus, full_status, limited_status


def planned_status(isolation: str, host: HostCapabilities) -> SandboxStatus:
    """The status a sandbox made now would report (barring cgroup set-up failures)."""
    problems = host.full_isolation_problems
    if isolation in ("off", "rlimits") or problems or host.layout is None:
        return limited_status(isolation, host.user, problems if isolation in ("auto", "full") else ())
    controllers = host.layout.controllers
    if host.layout.version == 2:
        controllers &= V2_CONTROLLERS
    return full_status(isolation, host.user, host.layout.version, controllers)


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
           host: HostCapabilities | None = None) -> str:
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
    if homes_dir is not None:
        state = "exists" if homes_dir.is_dir() else "will be created"
        lines.append(f"homes:       {homes_dir} ({state}); seen by users as /home/<name>")
    if host.is_root and isolation == "auto" and host.full_isolation_problems:
        lines.append(f"will use (isolation={isolation}): nothing; as root the server refuses to start "
                     "without full isolation (or runs programs as one unprivileged account with "
                     "--unsafe-no-isolation)")
        return "\n".join(lines)
    status = planned_status(isolation, host)
    lines.append(f"will use (isolation={isolation}): {status.summary}")
    return "\n".join(lines)
