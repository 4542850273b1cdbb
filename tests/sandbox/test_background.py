"""Programs without a terminal: started isolated, logged, detected when they end, stopped whole."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from sandbox import Sandbox, SpawnError
from sandbox.background import BackgroundProcess, start_background
from tests.sandbox.conftest import UserFactory, needs_root
from tests.sandbox.leftovers import cgroup_dir, pids_in
from tests.sandbox.ptys import wait_for

pytestmark = needs_root


def _log(sandbox: Sandbox, name: str, file: str = "job.log") -> Path:
    return sandbox.log_dir / name / file


def _ended(process: BackgroundProcess) -> int:
    wait_for(lambda: process.poll() is not None, "the program to end")
    assert process.exit_status is not None
    return process.exit_status


def test_runs_as_the_user_with_var_log_and_var_www(isolated: Sandbox, make_user: UserFactory) -> None:
    erin = make_user("sbxt_erin")
    process = start_background(isolated, erin, "job1", [
        "bash", "-c", "id -u; pwd; cat; echo made > /var/www/page; ls /var/log; echo err >&2; exit 3"],
        erin.visible_home, _log(isolated, "sbxt_erin"))
    assert _ended(process) == 3
    output = _log(isolated, "sbxt_erin").read_text()
    assert output.split() == [str(erin.uid), "/home/sbxt_erin", "job.log", "err"], output
    assert (isolated.www_dir / "sbxt_erin" / "page").read_text() == "made\n"
    assert _log(isolated, "sbxt_erin").stat().st_uid == erin.uid


def test_stop_ends_the_whole_tree_daemons_included(isolated: Sandbox, make_user: UserFactory,
                                                   cgroup_base: str) -> None:
    fay = make_user("sbxt_fay")
    process = start_background(isolated, fay, "job2", [
        "bash", "-c", "trap 'echo got-term; exit 0' TERM; setsid sleep 300 & echo ready; "
                      "while true; do sleep 0.1; done"],
        fay.visible_home, _log(isolated, "sbxt_fay"))
    wait_for(lambda: "ready" in _log(isolated, "sbxt_fay").read_text(), "the program to start")
    assert process.poll() is None
    process.stop(grace=5)
    assert "got-term" in _log(isolated, "sbxt_fay").read_text()
    wait_for(lambda: not pids_in(cgroup_dir("pids", cgroup_base, "sbxt_fay")), "the detached sleep to end")


def test_a_program_ignoring_sigterm_is_killed_after_the_grace(isolated: Sandbox,
                                                             make_user: UserFactory) -> None:
    gil = make_user("sbxt_gil")
    process = start_background(isolated, gil, "job3", ["bash", "-c", "trap '' TERM; echo up; sleep 300"],
                               gil.visible_home, _log(isolated, "sbxt_gil"))
    wait_for(lambda: "up" in _log(isolated, "sbxt_gil").read_text(), "the program to start")
    assert process.stop(grace=0.5) != 0


def test_a_log_that_links_elsewhere_is_refused(isolated: Sandbox, make_user: UserFactory,
                                               tmp_path: Path) -> None:
    hal = make_user("sbxt_hal")
    victim = tmp_path / "root-owned"
    victim.write_text("secret\n")
    os.symlink(victim, _log(isolated, "sbxt_hal", "sym.log"))
    with pytest.raises(SpawnError, match="sym.log"):
        start_background(isolated, hal, "job4", ["true"], hal.visible_home, _log(isolated, "sbxt_hal", "sym.log"))
    os.link(victim, _log(isolated, "sbxt_hal", "hard.log"))
    with pytest.raises(SpawnError, match="not a plain file of yours"):
        start_background(isolated, hal, "job5", ["true"], hal.visible_home, _log(isolated, "sbxt_hal", "hard.log"))
    assert victim.read_text() == "secret\n"


def test_a_missing_working_directory_is_reported_in_the_log(isolated: Sandbox, make_user: UserFactory) -> None:
    ida = make_user("sbxt_ida")
    process = start_background(isolated, ida, "job6", ["true"], "/home/sbxt_ida/nowhere", _log(isolated, "sbxt_ida"))
    assert _ended(process) == 1
    assert "does not exist" in _log(isolated, "sbxt_ida").read_text()


def test_unisolated_programs_see_their_places_on_the_host(plain_sandbox: Sandbox) -> None:
    identity = plain_sandbox.identity("plain", "free")
    places = plain_sandbox.places(identity)
    process = start_background(plain_sandbox, identity, "job7", ["sh", "-c", f"echo hi > {places.www}/x; cat"],
                               identity.visible_home, plain_sandbox.log_dir / "plain" / "x.log")
    assert _ended(process) == 0
    assert (plain_sandbox.www_dir / "plain" / "x").read_text() == "hi\n"
