"""Memory and process limits hold inside a user's group, and only there."""
from __future__ import annotations

import signal
from pathlib import Path

from sandbox import Sandbox
from tests.sandbox.conftest import TEST_LIMITS, UserFactory, needs_root
from tests.sandbox.leftovers import cgroup_dir, pids_in
from tests.sandbox.ptys import run, run_script, wait_exit, wait_for

pytestmark = needs_root

# Each function call forks two more and waits: it grows until forks fail.
FORK_BOMB = "bomb() { bomb & bomb & wait; }; bomb"


def _read_int(path: Path, field: str | None = None) -> int:
    text = path.read_text()
    if field is None:
        return int(text)
    return next(int(line.split()[1]) for line in text.splitlines() if line.split()[0] == field)


def test_fork_bomb_is_held_by_pids_max_while_others_keep_working(isolated: Sandbox, make_user: UserFactory,
                                                                cgroup_base: str) -> None:
    bomber, neighbour = make_user("sbxt_bomber", "tiny"), make_user("sbxt_neighbour", "free")
    max_pids = TEST_LIMITS["tiny"].max_pids
    assert max_pids is not None
    group = cgroup_dir("pids", cgroup_base, "sbxt_bomber")
    bomb = run(isolated.spawn(bomber, ["taskset", "-c", "0", "bash", "-c", FORK_BOMB], bomber.visible_home))
    try:
        wait_for(lambda: _read_int(group / "pids.events", "max") > 0, "the bomb to reach pids.max")
        assert _read_int(group / "pids.current") <= max_pids
        status, output = run_script(isolated, neighbour,
                                    "for i in $(seq 1 50); do /bin/true; done; echo still forking")
        assert status == 0 and "still forking" in output, output
        assert _read_int(group / "pids.current") <= max_pids
    finally:
        run(isolated.kill_user_processes("sbxt_bomber"))
    assert pids_in(group) == []
    assert wait_exit(bomb) == 128 + signal.SIGKILL


def test_memory_hog_is_killed_inside_its_group(isolated: Sandbox, make_user: UserFactory,
                                               cgroup_base: str) -> None:
    hog = make_user("sbxt_hog", "tiny")
    group = cgroup_dir("memory", cgroup_base, "sbxt_hog")
    memory_bytes = TEST_LIMITS["tiny"].memory_bytes
    assert memory_bytes is not None
    keeper = run(isolated.spawn(hog, ["sleep", "300"], hog.visible_home))  # keeps the group alive
    try:
        console = run(isolated.spawn(hog, ["python3", "-c", "b = bytearray(512 * 1024 * 1024)"],
                                     hog.visible_home))
        assert wait_exit(console) == 128 + signal.SIGKILL
        assert _read_int(group / "memory.limit_in_bytes") == memory_bytes
        assert _read_int(group / "memory.oom_control", "oom_kill") >= 1
        # Only the hog died: the user's other console and the server live on.
        assert keeper.poll() is None
        status, output = run_script(isolated, hog, "echo fine")
        assert (status, output.strip()) == (0, "fine")
    finally:
        keeper.kill()
        wait_exit(keeper)
