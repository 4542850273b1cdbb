"""Moving users in and out of the tarpit, and CPU totals that never go back."""
from __future__ import annotations

from sandbox import Sandbox
from tests.sandbox.conftest import UserFactory, needs_root
from tests.sandbox.leftovers import cgroup_dir, pids_in
from tests.sandbox.ptys import run, run_script, wait_exit, wait_for

pytestmark = needs_root


def test_enter_moves_every_process_and_new_ones_start_there(isolated: Sandbox, make_user: UserFactory,
                                                             cgroup_base: str) -> None:
    ivy = make_user("sbxt_ivy")
    normal = cgroup_dir("cpu", cgroup_base, "sbxt_ivy")
    tarpit = cgroup_dir("cpu", cgroup_base, "_tarpit", "sbxt_ivy")
    first = run(isolated.spawn(ivy, ["bash", "-c", "sleep 300 & sleep 301 & wait"], ivy.visible_home))
    try:
        wait_for(lambda: len(pids_in(normal)) >= 5, "the console's processes")  # unshare, sh, bash, 2 sleeps
        run(isolated.enter_tarpit("sbxt_ivy"))
        assert pids_in(normal) == [] and len(pids_in(tarpit)) >= 5
        assert (tarpit.parent / "cpu.shares").read_text().strip() == "2"

        second = run(isolated.spawn(ivy, ["sleep", "302"], ivy.visible_home))
        assert second.pid and str(second.pid) in pids_in(tarpit) and pids_in(normal) == []

        run(isolated.leave_tarpit("sbxt_ivy"))
        assert not isolated.is_tarpitted("sbxt_ivy")
        assert pids_in(tarpit) == [] and str(second.pid) in pids_in(normal)
        second.kill()
        wait_exit(second)
    finally:
        first.kill()
        wait_exit(first)


def test_tarpit_of_a_user_with_nothing_running_applies_to_their_next_console(
        isolated: Sandbox, make_user: UserFactory, cgroup_base: str) -> None:
    run(isolated.enter_tarpit("sbxt_later"))  # e.g. restored at startup, before any console
    jack = make_user("sbxt_later")
    console = run(isolated.spawn(jack, ["sleep", "300"], jack.visible_home))
    try:
        assert str(console.pid) in pids_in(cgroup_dir("cpu", cgroup_base, "_tarpit", "sbxt_later"))
    finally:
        console.kill()
        wait_exit(console)
        run(isolated.leave_tarpit("sbxt_later"))


def test_cpu_total_keeps_growing_across_removed_and_recreated_groups(
        isolated: Sandbox, make_user: UserFactory, cgroup_base: str) -> None:
    kim = make_user("sbxt_kim")
    group = cgroup_dir("cpuacct", cgroup_base, "sbxt_kim")
    burn = "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done"  # about a second of CPU
    assert run_script(isolated, kim, burn)[0] == 0
    wait_for(lambda: not group.exists(), "the emptied group to be removed")
    first = run(isolated.cpu_usage_seconds("sbxt_kim"))
    assert first > 0.2

    assert run_script(isolated, kim, burn)[0] == 0
    wait_for(lambda: not group.exists(), "the emptied group to be removed again")
    second = run(isolated.cpu_usage_seconds("sbxt_kim"))
    assert second > first + 0.2
    assert run(isolated.active_cpu_usage())["sbxt_kim"] == second
