"""What this host lets the sandbox do: root, cgroups, tools, namespaces.

Only looks and asks; creates nothing, so ``ide sandbox check`` can run it
on a production host safely.
"""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.cgroup_layout import CgroupLayout, detect_layout

TOOLS = ("useradd", "userdel", "unshare", "setpriv")
_V1_NEEDED = ("cpu", "cpuacct")
_V2_NEEDED = ("cpu",)


@dataclass(frozen=True)
class HostCapabilities:
    """The facts the isolation decision is made from."""

    is_root: bool
    user: str
    layout: CgroupLayout | None
    cgroup_problem: str | None
    tools: dict[str, str | None] = field(default_factory=dict)
    namespace_problem: str | None = None
    uid: int = field(default_factory=os.geteuid)

    @property
    def missing_tools(self) -> list[str]:
        return [name for name, path in self.tools.items() if path is None]

    @property
    def full_isolation_problems(self) -> list[str]:
        """Why full isolation is impossible here (empty when it is possible)."""
        problems = []
        if not self.is_root:
            problems.append("not running as root")
        if self.missing_tools:
            problems.append(f"missing programs: {', '.join(self.missing_tools)}")
        if self.cgroup_problem:
            problems.append(self.cgroup_problem)
        if self.namespace_problem:
            problems.append(self.namespace_problem)
        if not Path("/home").is_dir():
            problems.append("/home does not exist (users' homes are mounted below it)")
        return problems


def current_user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid {os.geteuid()}"


def _cgroup_problem(layout: CgroupLayout | None) -> str | None:
    if layout is None:
        return "no cgroup file system is mounted"
    needed = _V1_NEEDED if layout.version == 1 else _V2_NEEDED
    missing = [c for c in needed if c not in layout.controllers]
    if missing:
        return f"cgroup v{layout.version} lacks the {', '.join(missing)} controller"
    for hierarchy in layout.hierarchies:
        if hierarchy.read_only or not os.access(hierarchy.own, os.W_OK):
            return f"cannot write to the server's own cgroup {hierarchy.own}"
    return None


def _namespace_problem(unshare: str | None) -> str | None:
    if unshare is None:
        return None  # reported as a missing program
    try:
        result = subprocess.run([unshare, "--pid", "--fork", "--mount-proc", "--", "true"],
                                capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot create PID and mount namespaces: {exc}"
    if result.returncode != 0:
        return f"cannot create PID and mount namespaces: {result.stderr.strip()}"
    return None


def detect_host(proc_self: Path = Path("/proc/self")) -> HostCapabilities:
    """Probe the host; runs ``unshare`` once as root, so call it at startup."""
    is_root = os.geteuid() == 0
    layout = detect_layout(proc_self)
    tools = {name: shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin:/bin")
             for name in TOOLS}
    return HostCapabilities(
        is_root=is_root, user=current_user(), layout=layout,
        cgroup_problem=_cgroup_problem(layout) if is_root else None, tools=tools,
        namespace_problem=_namespace_problem(tools["unshare"]) if is_root else None)
