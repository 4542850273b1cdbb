"""The cgroup v2 logic, against a directory tree shaped like a cgroup2 mount.

This host runs cgroup v1 for its controllers, so v2 is exercised on plain
files: what is written where, and how counters are read.  (The kernel's own
behaviour, such as moving processes, is covered by the v1 tests.)
"""
from __future__ import annotations

from pathlib import Path

import pytest

from sandbox import DEFAULT_LIMITS, Sandbox
from sandbox.cgroup_files import CgroupError
from sandbox.cgroup_layout import CgroupLayout, parse_layout
from sandbox.cgroups import UserCgroups
from sandbox.host import HostCapabilities
from tests.sandbox.ptys import run

FREE, HACKER = DEFAULT_LIMITS["free"], DEFAULT_LIMITS["hacker"]


def _v2_tree(tmp_path: Path, own_path: str = "/ide.service", server_pids: str = "") -> tuple[CgroupLayout, Path]:
    mount = tmp_path / "cgroup"
    own = mount / own_path.strip("/")
    own.mkdir(parents=True, exist_ok=True)
    (own / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (own / "cgroup.subtree_control").write_text("")
    (own / "cgroup.procs").write_text(server_pids)
    layout = parse_layout(f"30 20 0:26 / {mount} rw,nosuid - cgroup2 cgroup2 rw\n", f"0::{own_path}\n")
    assert layout is not None and layout.version == 2
    return layout, own


def test_setup_hands_controllers_down_and_makes_an_idle_tarpit(tmp_path: Path) -> None:
    layout, own = _v2_tree(tmp_path)
    tarpit = own / "ide" / "_tarpit"
    tarpit.mkdir(parents=True)
    (tarpit / "cpu.idle").write_text("0")
    UserCgroups(layout, "ide", tarpit_shares=2).setup()
    assert (own / "cgroup.subtree_control").read_text() == "+cpu +memory +pids"
    assert (own / "ide" / "cgroup.subtree_control").read_text() == "+cpu +memory +pids"
    assert (tarpit / "cgroup.subtree_control").read_text() == "+cpu +memory +pids"
    assert (tarpit / "cpu.idle").read_text() == "1"


def test_without_cpu_idle_the_tarpit_gets_the_lowest_weight(tmp_path: Path) -> None:
    layout, own = _v2_tree(tmp_path)
    UserCgroups(layout, "ide", tarpit_shares=2).setup()
    assert (own / "ide" / "_tarpit" / "cpu.weight").read_text() == "1"


def test_user_groups_get_weight_memory_and_pids_limits(tmp_path: Path) -> None:
    layout, own = _v2_tree(tmp_path)
    cgroups = UserCgroups(layout, "ide", tarpit_shares=2)
    cgroups.setup()
    assert cgroups.join_targets("bob", FREE, tarpitted=False) == [own / "ide" / "bob" / "cgroup.procs"]
    group = own / "ide" / "bob"
    assert (group / "cpu.weight").read_text() == "29"  # 300 shares: 30/70 against 700's weight 68
    assert (group / "memory.max").read_text() == str(FREE.memory_bytes)
    assert (group / "pids.max").read_text() == str(FREE.max_pids)

    (group / "memory.swap.max").write_text("max")
    cgroups.join_targets("bob", HACKER, tarpitted=False)  # an upgrade applies at the next spawn
    assert (group / "cpu.weight").read_text() == "68"
    assert (group / "memory.max").read_text() == str(HACKER.memory_bytes)
    assert (group / "memory.swap.max").read_text() == "0"

    # In v2 the tarpit is in the same tree, so it carries the memory and pids limits too.
    tarpitted = cgroups.join_targets("bob", FREE, tarpitted=True)
    assert tarpitted == [own / "ide" / "_tarpit" / "bob" / "cgroup.procs"]
    assert (own / "ide" / "_tarpit" / "bob" / "pids.max").read_text() == str(FREE.max_pids)
    assert cgroups.existing_users() == {"bob"}


def test_usage_adds_up_both_groups_and_survives_resets(tmp_path: Path) -> None:
    layout, own = _v2_tree(tmp_path)
    cgroups = UserCgroups(layout, "ide", tarpit_shares=2)
    cgroups.setup()
    cgroups.join_targets("bob", FREE, tarpitted=False)
    stat = own / "ide" / "bob" / "cpu.stat"
    stat.write_text("usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n")
    assert cgroups.read_usage("bob") == pytest.approx(1.5)
    stat.write_text("usage_usec 2500000\n")
    assert cgroups.read_usage("bob") == pytest.approx(2.5)
    stat.write_text("usage_usec 500000\n")  # the group was re-created meanwhile
    assert cgroups.read_usage("bob") == pytest.approx(3.0)
    cgroups.join_targets("bob", FREE, tarpitted=True)
    (own / "ide" / "_tarpit" / "bob" / "cpu.stat").write_text("usage_usec 1000000\n")
    assert cgroups.read_usage("bob") == pytest.approx(4.0)
    assert cgroups.total_seconds("bob") == pytest.approx(4.0)


def test_a_group_found_with_usage_in_it_only_sets_the_baseline(tmp_path: Path) -> None:
    layout, own = _v2_tree(tmp_path)
    (own / "ide" / "carl").mkdir(parents=True)  # left by an earlier run of the server
    (own / "ide" / "carl" / "cpu.stat").write_text("usage_usec 9000000\n")
    cgroups = UserCgroups(layout, "ide", tarpit_shares=2)
    cgroups.setup()
    assert cgroups.read_usage("carl") == 0.0
    (own / "ide" / "carl" / "cpu.stat").write_text("usage_usec 9250000\n")
    assert cgroups.read_usage("carl") == pytest.approx(0.25)


def test_kill_uses_cgroup_kill(tmp_path: Path) -> None:
    layout, own = _v2_tree(tmp_path)
    cgroups = UserCgroups(layout, "ide", tarpit_shares=2)
    cgroups.setup()
    cgroups.join_targets("bob", FREE, tarpitted=False)
    group = own / "ide" / "bob"
    (group / "cgroup.kill").write_text("")
    (group / "cgroup.procs").write_text("")
    cgroups.kill("bob")
    assert (group / "cgroup.kill").read_text() == "1"


def test_server_processes_leave_the_own_group_before_controllers_are_enabled(tmp_path: Path) -> None:
    layout, own = _v2_tree(tmp_path, server_pids="4242\n")
    (own / "ide" / "_server").mkdir(parents=True)
    (own / "ide" / "_server" / "cgroup.procs").write_text("")  # the kernel provides it
    # A real kernel empties <own> as each pid is written to _server; plain
    # files cannot, so the move is retried and then reported.
    with pytest.raises(CgroupError, match="could not move the server's processes"):
        UserCgroups(layout, "ide", tarpit_shares=2).setup()
    assert (own / "ide" / "_server" / "cgroup.procs").read_text() == "4242"
    assert (own / "cgroup.subtree_control").read_text() == ""


def test_the_root_group_may_hold_processes(tmp_path: Path) -> None:
    layout, own = _v2_tree(tmp_path, own_path="/", server_pids="1\n4242\n")
    UserCgroups(layout, "ide", tarpit_shares=2).setup()
    assert (own / "cgroup.subtree_control").read_text() == "+cpu +memory +pids"
    assert not (own / "ide" / "_server").exists()


def test_sandbox_status_reports_v2(tmp_path: Path) -> None:
    layout, _ = _v2_tree(tmp_path)
    host = HostCapabilities(is_root=True, user="root", layout=layout, cgroup_problem=None,
                            tools={"useradd": "/usr/sbin/useradd", "userdel": "/usr/sbin/userdel",
                                   "unshare": "/usr/bin/unshare", "setpriv": "/usr/bin/setpriv"})
    sandbox = Sandbox(tmp_path / "data" / "home", isolation="auto", host=host)
    try:
        status = sandbox.status()
        assert status.isolated and status.cgroup_version == 2
        assert status.cgroup_controllers == ("cpu", "memory", "pids")
        assert "cgroup v2 groups (cpu, memory, pids)" in status.summary
    finally:
        run(sandbox.close())
