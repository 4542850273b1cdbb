"""Where the cgroup hierarchies are and where the server itself sits in them.

Read from ``/proc/self/mountinfo`` and ``/proc/self/cgroup`` so that every
group the sandbox makes can be nested under the server's own group: a
supervisor's group, a systemd service or a container's root alike.
"""
from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

V1_CONTROLLERS = frozenset({"cpu", "cpuacct", "memory", "pids", "freezer"})
"""The v1 controllers the sandbox uses; other hierarchies are left alone."""

_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


@dataclass(frozen=True)
class Hierarchy:
    """One mounted cgroup hierarchy and the server's own group in it."""

    controllers: frozenset[str]
    mount: Path
    own: Path
    read_only: bool = False


@dataclass(frozen=True)
class CgroupLayout:
    """The hierarchies to use: one per controller group (v1) or one (v2)."""

    version: int
    hierarchies: tuple[Hierarchy, ...]

    def hierarchy_with(self, controller: str) -> Hierarchy | None:
        """The hierarchy that carries ``controller`` (v2: the only one)."""
        if self.version == 2:
            return self.hierarchies[0]
        for hierarchy in self.hierarchies:
            if controller in hierarchy.controllers:
                return hierarchy
        return None

    @property
    def controllers(self) -> frozenset[str]:
        """Every controller available across the hierarchies."""
        found: set[str] = set()
        for hierarchy in self.hierarchies:
            found |= hierarchy.controllers
        return frozenset(found)


@dataclass(frozen=True)
class _Mount:
    root: str
    mount_point: str
    fstype: str
    mount_options: frozenset[str]
    super_options: frozenset[str]


def _unescape(field: str) -> str:
    return _OCTAL_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field)


def _parse_mountinfo(text: str) -> list[_Mount]:
    mounts = []
    for line in text.splitlines():
        before, sep, after = line.partition(" - ")
        if not sep:
            continue
        fields, tail = before.split(), after.split()
        if len(fields) < 6 or len(tail) < 3:
            continue
        mounts.append(_Mount(root=_unescape(fields[3]), mount_point=_unescape(fields[4]),
                             fstype=tail[0], mount_options=frozenset(fields[5].split(",")),
                             super_options=frozenset(tail[2].split(","))))
    return mounts


def _parse_proc_cgroup(text: str) -> tuple[dict[str, str], str | None]:
    """v1 paths by controller, and the v2 path (``0::``) if there is one."""
    v1: dict[str, str] = {}
    v2: str | None = None
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy_id, controllers, path = parts
        if hierarchy_id == "0" and controllers == "":
            v2 = path
            continue
        for controller in controllers.split(","):
            v1[controller] = path
    return v1, v2


def _host_dir(mount: _Mount, cgroup_path: str) -> Path | None:
    """The directory of ``cgroup_path`` under a mount whose root may be a subtree."""
    root = mount.root.rstrip("/") or "/"
    if root != "/" and cgroup_path != root and not cgroup_path.startswith(root + "/"):
        return None
    relative = posixpath.relpath(cgroup_path, root)
    return Path(mount.mount_point) if relative == "." else Path(mount.mount_point) / relative


def _read_controllers(own: Path) -> frozenset[str]:
    try:
        return frozenset((own / "cgroup.controllers").read_text().split())
    except OSError:
        return frozenset()


def parse_layout(mountinfo: str, proc_cgroup: str) -> CgroupLayout | None:
    """The layout described by the two files' contents, or None without cgroups.

    v1 wins when a v1 hierarchy carries ``cpu`` or ``cpuacct``: on a hybrid
    host the cgroup2 mount then has no useful controllers.
    """
    mounts = _parse_mountinfo(mountinfo)
    v1_paths, v2_path = _parse_proc_cgroup(proc_cgroup)
    v1: list[Hierarchy] = []
    seen: set[frozenset[str]] = set()
    for mount in mounts:
        if mount.fstype != "cgroup":
            continue
        controllers = mount.super_options & V1_CONTROLLERS
        if not controllers or controllers in seen:
            continue
        path = next((v1_paths[c] for c in controllers if c in v1_paths), None)
        own = _host_dir(mount, path) if path is not None else None
        if own is None:
            continue
        seen.add(controllers)
        v1.append(Hierarchy(controllers=controllers, mount=Path(mount.mount_point), own=own,
                            read_only="ro" in mount.mount_options))
    if any({"cpu", "cpuacct"} & h.controllers for h in v1):
        return CgroupLayout(version=1, hierarchies=tuple(v1))
    if v2_path is None:
        return None
    for mount in mounts:
        if mount.fstype == "cgroup2":
            own = _host_dir(mount, v2_path)
            if own is None:
                continue
            return CgroupLayout(version=2, hierarchies=(Hierarchy(
                controllers=_read_controllers(own), mount=Path(mount.mount_point), own=own,
                read_only="ro" in mount.mount_options),))
    return None


def detect_layout(proc_self: Path = Path("/proc/self")) -> CgroupLayout | None:
    """The layout seen by this process, or None when no cgroups are mounted."""
    try:
        mountinfo = (proc_self / "mountinfo").read_text()
        proc_cgroup = (proc_self / "cgroup").read_text()
    except OSError:
        return None
    return parse_layout(mountinfo, proc_cgroup)
