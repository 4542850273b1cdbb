"""Without isolation: plain processes, rlimits, and the status saying so."""
from __future__ import annotations

import os
import resource
from pathlib import Path

import psutil
import pytest

from sandbox import DEFAULT_LIMITS, IsolationUnavailable, Sandbox, SpawnError
from sandbox.check import report
from sandbox.cpu_counter import CpuCounter
from sandbox.host import HostCapabilities, detect_host
from sandbox.rlimits import fallback_rlimits
from tests.sandbox.ptys import read_until, run, run_script, wait_exit, wait_for

NOT_ROOT = HostCapabilities(is_root=False, user="ide", layout=None, cgroup_problem=None,
                            tools={"useradd": None, "userdel": None, "unshare": "/usr/bin/unshare",
                                   "setpriv": "/usr/bin/setpriv"}, uid=1000)


def test_off_runs_plain_processes_as_the_server(plain_sandbox: Sandbox) -> None:
    alice = plain_sandbox.identity("alice", "free")
    assert alice.uid is None and alice.home.is_dir()
    status, output = run_script(plain_sandbox, alice, "echo $HOME; pwd; id -u; yes | head -1 >/dev/null; "
                                "echo pipe=${PIPESTATUS[0]}; ulimit -v")
    assert status == 0, output
    assert output.split() == [str(alice.home), str(alice.home), str(os.geteuid()), "pipe=141", "unlimited"]
    summary = plain_sandbox.status().summary
    assert summary.startswith("Sandboxing is off: isolation is set to 'off'; processes run as ")
    assert not plain_sandbox.status().isolated


def test_working_directory_must_be_in_a_home(plain_sandbox: Sandbox) -> None:
    """Not /proc/<pid>/cwd of someone else's program, nor any other host path."""
    erin = plain_sandbox.identity("erin", "free")
    for outside in ("/proc/1/cwd", "/root", "/home", "/home/erin/../../etc", "relative"):
        with pytest.raises(SpawnError, match="is not inside a home"):
            run(plain_sandbox.spawn(erin, ["pwd"], outside))


def test_rlimits_mode_limits_memory_and_cpu_time(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path / "home", isolation="rlimits")
    try:
        bob = sandbox.identity("bob", "free")
        status, output = run_script(sandbox, bob, "ulimit -v; ulimit -t; ulimit -u")
        assert status == 0, output
        memory_kib, cpu_seconds, processes = output.split()
        assert int(memory_kib) * 1024 == DEFAULT_LIMITS["free"].memory_bytes
        assert int(cpu_seconds) == DEFAULT_LIMITS["free"].daily_cpu_seconds
        assert int(processes) >= (DEFAULT_LIMITS["free"].max_pids or 0)
        assert sandbox.status().rlimits_only
    finally:
        run(sandbox.close())


def test_without_root_auto_falls_back_to_rlimits_and_says_why(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path / "home", isolation="auto", host=NOT_ROOT)
    try:
        assert sandbox.status().summary == (
            "Sandboxing is off: not running as root; missing programs: useradd, userdel; "
            "processes run as ide with rlimits only.")
        assert not sandbox.isolated
    finally:
        run(sandbox.close())
    with pytest.raises(IsolationUnavailable, match="not running as root.*ide sandbox check"):
        Sandbox(tmp_path / "home", isolation="full", host=NOT_ROOT)
    with pytest.raises(ValueError, match="isolation must be one of"):
        Sandbox(tmp_path / "home", isolation="strict")


def test_cpu_is_counted_from_process_trees_without_cgroups(plain_sandbox: Sandbox) -> None:
    carol = plain_sandbox.identity("carol", "free")
    burn = "i=0; while [ $i -lt 60000 ]; do i=$((i+1)); done"
    assert run_script(plain_sandbox, carol, f"({burn}) & wait")[0] == 0  # counted via the reaped child
    finished = run(plain_sandbox.cpu_usage_seconds("carol"))
    assert finished > 0.1
    console = run(plain_sandbox.spawn(carol, ["bash", "-c", "while :; do :; done"], carol.visible_home))
    try:
        wait_for(lambda: run(plain_sandbox.cpu_usage_seconds("carol")) > finished + 0.1, "live CPU to count")
        assert run(plain_sandbox.active_cpu_usage())["carol"] > finished + 0.1
    finally:
        console.kill()
        wait_exit(console)
    assert run(plain_sandbox.cpu_usage_seconds("carol")) > finished + 0.1


def test_tarpit_without_cgroups_is_niceness(plain_sandbox: Sandbox) -> None:
    dave = plain_sandbox.identity("dave", "free")
    running = run(plain_sandbox.spawn(dave, ["sleep", "300"], dave.visible_home))
    try:
        run(plain_sandbox.enter_tarpit("dave"))
        assert psutil.Process(running.pid).nice() == 19
        later = run(plain_sandbox.spawn(dave, ["bash", "-c", "echo nice=$(nice); sleep 300"],
                                        dave.visible_home))
        assert "nice=19" in read_until(later, "nice=19")
        if os.geteuid() == 0:  # lowering niceness needs privilege
            run(plain_sandbox.leave_tarpit("dave"))
            assert psutil.Process(running.pid).nice() == 0
        later.kill()
        wait_exit(later)
    finally:
        running.kill()
        wait_exit(running)


def test_check_report_lists_what_is_there_and_what_will_be_used(tmp_path: Path) -> None:
    text = report(tmp_path / "home", host=NOT_ROOT)
    assert text.splitlines()[0] == "running as:  ide (uid 1000); not root: no uid switching, no cgroups"
    assert "useradd MISSING" in text
    assert f"{tmp_path / 'home'} (will be created)" in text
    assert text.splitlines()[-1] == (
        "will use (isolation=auto): Sandboxing is off: not running as root; missing programs: "
        "useradd, userdel; processes run as ide with rlimits only.")
    here = report(tmp_path, host=detect_host())
    assert "cgroups:" in here and "will use (isolation=auto): Sandboxing is" in here
    if os.geteuid() == 0:
        assert "PID and mount namespaces work" in here


def test_cpu_counter_adds_increases_and_treats_drops_as_resets() -> None:
    counter = CpuCounter()
    counter.observe("old", 5_000_000_000)  # met with time in it: baseline only
    counter.start("new")
    counter.observe("new", 1_000_000_000)
    counter.observe("old", 5_500_000_000)
    assert counter.total_seconds == pytest.approx(1.5)
    counter.observe("new", 200_000_000)  # re-created: counts from zero
    assert counter.total_seconds == pytest.approx(1.7)
    counter.forget("old")
    counter.observe("old", 100_000_000)
    assert counter.total_seconds == pytest.approx(1.7)


def test_rlimits_never_exceed_the_servers_hard_limits() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NPROC)
    limits = fallback_rlimits(DEFAULT_LIMITS["hacker"], running_processes=10**9)
    nproc = next((s, h) for which, s, h in limits if which == resource.RLIMIT_NPROC)
    if hard != resource.RLIM_INFINITY:
        assert nproc[1] <= hard and nproc[0] <= nproc[1]
    else:
        assert nproc == (10**9 + 512, 10**9 + 512)
