"""Finding the hierarchies and the server's own group from /proc."""
from __future__ import annotations

from pathlib import Path

from sandbox.cgroup_layout import detect_layout, parse_layout

HYBRID_MOUNTINFO = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
HYBRID_CGROUP = """\
9:name=systemd:/
8:pids:/
4:memory:/process_api/abc
2:cpuacct:/
1:cpu:/
0::/
"""


def test_hybrid_host_uses_v1_and_nests_under_the_servers_own_groups() -> None:
    layout = parse_layout(HYBRID_MOUNTINFO, HYBRID_CGROUP)
    assert layout is not None and layout.version == 1
    own = {next(iter(h.controllers)): h.own for h in layout.hierarchies}
    assert own == {"cpu": Path("/sys/fs/cgroup/cpu"), "cpuacct": Path("/sys/fs/cgroup/cpuacct"),
                   "memory": Path("/sys/fs/cgroup/memory/process_api/abc"),
                   "pids": Path("/sys/fs/cgroup/pids")}
    assert layout.controllers == {"cpu", "cpuacct", "memory", "pids"}


def test_co_mounted_controllers_are_one_hierarchy() -> None:
    layout = parse_layout(
        "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
        "35 31 0:32 / /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n",
        "3:cpu,cpuacct:/system.slice/ide.service\n2:memory:/system.slice/ide.service\n")
    assert layout is not None and len(layout.hierarchies) == 2
    cpu = layout.hierarchy_with("cpuacct")
    assert cpu is layout.hierarchy_with("cpu")
    assert cpu is not None and cpu.own == Path("/sys/fs/cgroup/cpu,cpuacct/system.slice/ide.service")
    memory = layout.hierarchy_with("memory")
    assert memory is not None and memory.read_only


def test_pure_v2_reads_controllers_from_the_own_group(tmp_path: Path) -> None:
    own = tmp_path / "cg" / "system.slice" / "ide.service"
    own.mkdir(parents=True)
    (own / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    layout = parse_layout(f"30 20 0:26 / {tmp_path}/cg rw,nosuid - cgroup2 cgroup2 rw\n",
                          "0::/system.slice/ide.service\n")
    assert layout is not None and layout.version == 2
    assert layout.hierarchies[0].own == own
    assert {"cpu", "memory", "pids"} <= layout.controllers


def test_container_mount_of_a_subtree_maps_paths_below_its_root() -> None:
    layout = parse_layout("40 30 0:30 /docker/abc /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu,cpuacct\n",
                          "2:cpu,cpuacct:/docker/abc/app\n")
    assert layout is not None
    assert layout.hierarchies[0].own == Path("/sys/fs/cgroup/cpu/app")


def test_escaped_mount_points_and_no_cgroups() -> None:
    layout = parse_layout(r"32 31 0:29 / /cg\040dir/cpu rw - cgroup cgroup rw,cpu,cpuacct" "\n",
                          "1:cpu,cpuacct:/\n")
    assert layout is not None and layout.hierarchies[0].mount == Path("/cg dir/cpu")
    assert parse_layout("22 1 8:1 / / rw - ext4 /dev/vda rw\n", "0::/\n") is None


def test_this_machine(tmp_path: Path) -> None:
    layout = detect_layout()
    assert layout is not None
    paths = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(","):
            paths[controller] = path
    for hierarchy in layout.hierarchies:
        key = sorted(hierarchy.controllers)[0] if layout.version == 1 else ""
        assert hierarchy.own == hierarchy.mount / paths[key].lstrip("/")
        assert hierarchy.own.is_dir()
    assert detect_layout(tmp_path) is None  # unreadable /proc: no cgroups rather than a crash
