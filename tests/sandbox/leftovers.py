"""What sandbox tests may create on the host, so that a fixture can prove it is gone."""
from __future__ import annotations

import grp
import os
import pwd
from dataclasses import dataclass
from pathlib import Path

from sandbox.cgroup_layout import detect_layout

TEST_UID_PREFIX = "idetest-"
"""Every Unix account a test creates starts with this; nothing else does."""


def cgroup_base_for_tests() -> str:
    """A base group name no server and no other test run uses."""
    return f"ide-test-{os.getpid()}"


def _mount_points() -> frozenset[str]:
    with open("/proc/self/mountinfo") as mountinfo:
        return frozenset(line.split()[4] for line in mountinfo)


@dataclass(frozen=True)
class HostSnapshot:
    mount_points: frozenset[str]

    @classmethod
    def take(cls) -> HostSnapshot:
        return cls(mount_points=_mount_points())

    def leftovers(self, cgroup_base: str) -> list[str]:
        """Everything the tests made that is still there, described."""
        found = [f"Unix user {entry.pw_name}" for entry in pwd.getpwall()
                 if entry.pw_name.startswith(TEST_UID_PREFIX)]
        found += [f"Unix group {entry.gr_name}" for entry in grp.getgrall()
                  if entry.gr_name.startswith(TEST_UID_PREFIX)]
        layout = detect_layout()
        for hierarchy in layout.hierarchies if layout else ():
            if (hierarchy.own / cgroup_base).exists():
                found.append(f"cgroup {hierarchy.own / cgroup_base}")
        found += [f"mount on {point}" for point in sorted(_mount_points() - self.mount_points)]
        return found


def cgroup_dir(controller: str, cgroup_base: str, *parts: str) -> Path:
    """The directory of a test group in the hierarchy carrying ``controller``."""
    layout = detect_layout()
    assert layout is not None, "no cgroups mounted"
    hierarchy = layout.hierarchy_with(controller)
    assert hierarchy is not None, f"no {controller} hierarchy"
    return hierarchy.own.joinpath(cgroup_base, *parts)


def pids_in(group: Path) -> list[str]:
    """The processes in a test group; none once the group is removed."""
    try:
        return (group / "cgroup.procs").read_text().split()
    except FileNotFoundError:
        return []
