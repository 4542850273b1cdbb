"""A user's console as root sets it up: own uid, own view of files and processes."""
from __future__ import annotations

import os
import signal
from collections.abc import Callable

import psutil
import pytest

from sandbox import Sandbox, SandboxedProcess, SpawnError
from tests.sandbox.conftest import UserFactory, needs_root
from tests.sandbox.leftovers import cgroup_dir, pids_in
from tests.sandbox.ptys import read_to_end, read_until, run, run_script, wait_exit, wait_for

pytestmark = needs_root


def test_runs_as_own_user_with_home_under_slash_home(isolated: Sandbox, make_user: UserFactory) -> None:
    alice = make_user("sbxt_alice")
    (alice.home / "project").mkdir()
    isolated.chown_to(alice, alice.home / "project")
    status, output = run_script(isolated, alice, "id -u; id -g; echo home=$HOME; pwd; "
                                "grep CapBnd /proc/self/status; touch made_here",
                                cwd="/home/sbxt_alice/project")
    assert status == 0, output
    lines = output.split()
    assert lines[:2] == [str(alice.uid), str(alice.gid)]
    assert "home=/home/sbxt_alice" in lines
    assert "/home/sbxt_alice/project" in lines
    assert "0000000000000000" in output  # no capabilities, even in the bounding set
    made = alice.home / "project" / "made_here"
    assert made.stat().st_uid == alice.uid


def test_home_is_private_and_owned_by_the_user(isolated: Sandbox, make_user: UserFactory) -> None:
    bob = make_user("sbxt_bob")
    info = bob.home.stat()
    assert (info.st_uid, info.st_gid) == (bob.uid, bob.gid)
    assert info.st_mode & 0o777 == 0o700


def test_tmp_is_private_and_sigpipe_is_default(isolated: Sandbox, make_user: UserFactory) -> None:
    carol = make_user("sbxt_carol")
    status, output = run_script(isolated, carol, "echo hi > /tmp/note; ls -A /tmp; "
                                "yes | head -1 >/dev/null; echo pipe=${PIPESTATUS[0]}")
    assert status == 0, output
    assert output.split() == ["note", "pipe=141"]
    assert (isolated.tmp_dir / "sbxt_carol" / "note").read_text() == "hi\n"


def test_ps_shows_only_this_consoles_processes(isolated: Sandbox, make_user: UserFactory) -> None:
    dave = make_user("sbxt_dave")
    other = run(isolated.spawn(dave, ["sleep", "300"], dave.visible_home))
    try:
        status, output = run_script(isolated, dave, "ps -e -o pid=,comm=")
        assert status == 0, output
        commands = [line.split()[1] for line in output.strip().splitlines()]
        # The namespace's init shell, maybe bash, and ps: not the other console's sleep.
        assert commands[0] == "sh" and commands[-1] == "ps" and "sleep" not in commands, output
    finally:
        other.kill()
        wait_exit(other)


def _sleeping_child(console: SandboxedProcess) -> int:
    def sleep_pid() -> int:
        return next((p.pid for p in psutil.Process(console.pid).children(recursive=True)
                     if p.name() == "sleep"), 0)
    return wait_for(sleep_pid, "the console's sleep")


def _refused_as(uid: int, action: Callable[[], object]) -> bool:
    """Whether ``action`` raises PermissionError in a child running as ``uid``.

    Checks the uid barrier alone, without the namespaces in front of it.
    """
    child = os.fork()
    if child == 0:
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            action()
        except PermissionError:
            os._exit(0)
        except BaseException:
            os._exit(2)
        os._exit(1)
    _, status = os.waitpid(child, 0)
    return os.waitstatus_to_exitcode(status) == 0


def test_users_cannot_read_see_or_signal_each_other(isolated: Sandbox, make_user: UserFactory) -> None:
    owner, intruder = make_user("sbxt_owner"), make_user("sbxt_intruder")
    secret = owner.home / "secret.txt"
    secret.write_text("s3cret\n")
    isolated.chown_to(owner, secret)
    victim = run(isolated.spawn(owner, ["sleep", "300"], owner.visible_home))
    try:
        sleep_pid = _sleeping_child(victim)
        status, output = run_script(isolated, intruder, (
            f"cat {secret}; echo host_path=$?; ls /home; cat /home/sbxt_owner/secret.txt; "
            f"echo visible_path=$?; ps -e -o comm= | grep -c sleep; kill -9 {sleep_pid}; echo kill=$?"))
        assert "s3cret" not in output
        assert "host_path=1" in output and "visible_path=1" in output
        lines = output.split()
        assert "sbxt_intruder" in lines and "sbxt_owner" not in lines
        assert "kill=1" in output and "No such process" in output
        assert psutil.Process(sleep_pid).is_running() and victim.poll() is None

        assert intruder.uid is not None
        assert _refused_as(intruder.uid, lambda: open(secret).read())
        assert _refused_as(intruder.uid, lambda: os.kill(sleep_pid, signal.SIGKILL))
        assert psutil.Process(sleep_pid).is_running()
    finally:
        victim.kill()
        wait_exit(victim)


def test_kill_ends_daemons_started_with_setsid_and_nohup(isolated: Sandbox, make_user: UserFactory,
                                                       cgroup_base: str) -> None:
    erin = make_user("sbxt_erin")
    console = run(isolated.spawn(erin, ["bash", "--norc", "-i"], erin.visible_home, env={"PS1": "$ "}))
    console.write(b"nohup sleep 301 >/dev/null 2>&1 & setsid sleep 302 & echo started\n")
    read_until(console, "started")
    group = cgroup_dir("pids", cgroup_base, "sbxt_erin")
    wait_for(lambda: len(pids_in(group)) >= 4, "the daemons to start")
    console.kill()
    assert wait_exit(console) == 128 + signal.SIGKILL
    wait_for(lambda: pids_in(group) == [], "every process to die")


def test_killing_a_users_processes_ends_every_console_of_theirs(isolated: Sandbox, make_user: UserFactory,
                                                cgroup_base: str) -> None:
    frank = make_user("sbxt_frank")
    consoles = [run(isolated.spawn(frank, ["sleep", "300"], frank.visible_home)) for _ in range(2)]
    run(isolated.kill_user_processes("sbxt_frank"))
    assert pids_in(cgroup_dir("pids", cgroup_base, "sbxt_frank")) == []
    for console in consoles:
        wait_exit(console)
    groups = [cgroup_dir(c, cgroup_base, "sbxt_frank") for c in ("cpu", "cpuacct", "memory", "pids")]
    wait_for(lambda: not any(g.exists() for g in groups), "the emptied groups to be removed")


def test_errors_name_the_problem(isolated: Sandbox, make_user: UserFactory) -> None:
    gina = make_user("sbxt_gina")
    with pytest.raises(SpawnError, match="no_such_program: command not found"):
        run(isolated.spawn(gina, ["no_such_program"], gina.visible_home))
    status, output = run_script(isolated, gina, "echo ran", cwd="/home/sbxt_gina/nowhere")
    assert status == 1 and "working directory /home/sbxt_gina/nowhere does not exist" in output
    assert "ran" not in output.split()
    with pytest.raises(SpawnError, match="working directory /proc/1/cwd is not inside a home"):
        run(isolated.spawn(gina, ["bash"], "/proc/1/cwd"))


def test_working_directory_is_entered_as_the_user_not_as_root(isolated: Sandbox,
                                                              make_user: UserFactory) -> None:
    """A directory in the home the user may not enter (made by root here, as a
    host or another account might) stays closed: the program never starts in it."""
    ivan = make_user("sbxt_ivan")
    locked = ivan.home / "locked"
    locked.mkdir(mode=0o700)
    (locked / "secret.txt").write_text("root's secret\n")
    status, output = run_script(isolated, ivan, "cat secret.txt; echo started", cwd="/home/sbxt_ivan/locked")
    assert status == 1, output
    assert "working directory /home/sbxt_ivan/locked cannot be entered: permission denied" in output
    assert "root's secret" not in output and "started" not in output


def test_program_in_the_home_is_found_by_its_visible_path(isolated: Sandbox, make_user: UserFactory) -> None:
    hugo = make_user("sbxt_hugo")
    script = hugo.home / "hello.sh"
    script.write_text("#!/bin/sh\necho hello from $(pwd)\n")
    script.chmod(0o755)
    isolated.chown_to(hugo, script)
    console = run(isolated.spawn(hugo, ["/home/sbxt_hugo/hello.sh"], hugo.visible_home))
    assert "hello from /home/sbxt_hugo" in read_to_end(console)
    assert wait_exit(console) == 0
