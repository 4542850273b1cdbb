"""What sandbox tests may create on the host, so that a fixture can prove it is gone."""
from __future__ import annotations

import errno
import grp
import json
import os
import pwd
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sandbox.cgroup_layout import detect_layout

TEST_UID_PREFIX = "idetest-"
"""Every Unix account a test creates starts with this; nothing else does."""
TEST_NETWORK_TAG = "idet"
"""The start of every interface and nftables table of a server with TEST_UID_PREFIX
(sandbox.network.addresses), and of the tests' own test hosts' interfaces."""
NETNS_MOUNTS = "/run/netns"


def cgroup_base_for_tests() -> str:
    """A base group name no server and no other test run uses."""
    return f"ide-test-{os.getpid()}"


def _mount_points() -> frozenset[str]:
    """Mount points, but not iproute2's /run/netns (made a mount point once, for good)
    nor the namespaces in it (counted as namespaces below)."""
    with open("/proc/self/mountinfo") as mountinfo:
        points = (line.split()[4] for line in mountinfo)
        return frozenset(p for p in points if p != NETNS_MOUNTS and not p.startswith(NETNS_MOUNTS + "/"))


def cgroup_groups(cgroup_base: str) -> list[Path]:
    """The base group of a test server or sandbox, in each hierarchy where it still exists."""
    layout = detect_layout()
    return [hierarchy.own / cgroup_base for hierarchy in (layout.hierarchies if layout else ())
            if (hierarchy.own / cgroup_base).exists()]


def network_leftovers() -> list[str]:
    """Test namespaces, interfaces and nftables tables still on the node."""
    found = []
    if os.path.isdir(NETNS_MOUNTS):
        found += [f"network namespace {name}" for name in sorted(os.listdir(NETNS_MOUNTS))
                  if name.startswith(TEST_UID_PREFIX)]
    found += [f"interface {name}" for name in sorted(os.listdir("/sys/class/net"))
              if name.startswith(TEST_NETWORK_TAG)]
    tables = subprocess.run(["nft", "-j", "list", "tables"], capture_output=True, text=True, check=False)
    if tables.returncode == 0:
        found += [f"nftables table {item['table']['name']}" for item in json.loads(tables.stdout)["nftables"]
                  if "table" in item and item["table"]["name"].startswith(TEST_NETWORK_TAG)]
    return found


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
        found += [f"cgroup {group}" for group in cgroup_groups(cgroup_base)]
        found += [f"mount on {point}" for point in sorted(_mount_points() - self.mount_points)]
        return found + network_leftovers()


def cgroup_dir(controller: str, cgroup_base: str, *parts: str) -> Path:
    """The directory of a test group in the hierarchy carrying ``controller``."""
    layout = detect_layout()
    assert layout is not None, "no cgroups mounted"
    hierarchy = layout.hierarchy_with(controller)
    assert hierarchy is not None, f"no {controller} hierarchy"
    return hierarchy.own.joinpath(cgroup_base, *parts)


def pids_in(group: Path) -> list[str]:
    """The processes in a test group; none once the group is removed (or while it is being
    removed: the kernel then answers ENODEV)."""
    try:
        return (group / "cgroup.procs").read_text().split()
    except (FileNotFoundError, OSError) as exc:
        if isinstance(exc, FileNotFoundError) or exc.errno == errno.ENODEV:
            return []
        raise
