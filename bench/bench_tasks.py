"""Scheduled tasks: many runs due in one minute, and the scheduler's cost while nothing is due.

    .venv/bin/python bench/bench_tasks.py [--no-isolated] [--output docs/performance.md]

1. 500 tasks (10 web_developer accounts × 50) due in the same minute on
   ``ide serve --adjustable-clock``: when each run started after the
   scheduler's clock read that minute, how many times each ran, and a
   console's keystroke echo meanwhile against idle.  Twice (the minute, and
   the same minute an hour later), unisolated as the console bench runs
   ours, then (as root, unless ``--no-isolated``) fully isolated as
   production runs it, with a throwaway uid prefix and cgroup base that are
   removed afterwards.
2. The same 500 commands from BusyBox's crond (bench/peer_cron.py), when
   it can run here.
3. Server CPU over an idle minute with no tasks, then with 10,000 that are
   not due within the hour.

Prints the figures and rewrites the section ``## Scheduled tasks`` of
docs/performance.md.  Everything it starts is stopped at the end.
"""
from __future__ import annotations

import argparse
import grp
import math
import os
import pwd
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import peer_cron  # noqa: E402
from bench.report import replace_section  # noqa: E402
from bench.servers import REPO, RunningServer, machine, make_account, start_ours  # noqa: E402
from bench.task_burst import Burst, BurstRunner, insert_tasks  # noqa: E402
from bench.task_idle import measure_idle  # noqa: E402
from bench.task_report import Figures, section  # noqa: E402
from bench.workers import Workers, stop_on_sigterm  # noqa: E402
from sandbox.cgroup_layout import detect_layout  # noqa: E402
from tasks.timing import Timing  # noqa: E402

ACCOUNTS = 10
TASKS_PER_ACCOUNT = 50  # web_developer's limit
IDLE_TASKS = 10_000
IDLE_SECONDS = 60.0
UID_PREFIX = "idebench-"
# The first due minute is at least this far ahead, so no task is due while they are inserted.
DUE_LEAD = 120.0


def _burst_mode(work_dir: Path, label: str, sandbox: tuple[str, ...] | None,
                then: Callable[[BurstRunner], None] | None = None) -> list[Burst]:
    """Start a server, give it the tasks and a probe account, and run the minute and the one an hour on.

    ``then`` runs afterwards with the same server and echo probe.
    """
    work_dir.mkdir(parents=True)
    server = start_ours(work_dir, "--adjustable-clock", sandbox=sandbox)
    workers = Workers()
    try:
        with ThreadPoolExecutor(4) as pool:
            owners = list(pool.map(lambda n: make_account(work_dir, f"taskdev{n}", "web_developer").name,
                                   range(ACCOUNTS)))
        probe = make_account(work_dir, "probe")
        due = math.ceil((time.time() + DUE_LEAD) / 60) * 60
        made = insert_tasks(server, owners, TASKS_PER_ACCOUNT, [Timing("hourly", int(due // 60) % 60)])
        if any(next_due != due for _, _, next_due in made):
            raise RuntimeError("a task is not due at the chosen minute")
        runner = BurstRunner(server, workers, probe, made)
        try:
            bursts = [runner.run(f"{label}, first run", due, 1), runner.run(f"{label}, an hour later", due + 3600, 2)]
            if then is not None:
                then(runner)
            return bursts
        finally:
            runner.close()
    finally:
        workers.close_all()
        _stop(server)


def _stop(server: RunningServer) -> None:
    server.stop()
    problems = server.problems()
    if problems:
        print("   the server logged:\n     " + "\n     ".join(problems[:10]), flush=True)


def _remove_isolation_leftovers(cgroup_base: str) -> list[str]:
    """Remove the throwaway Unix accounts, groups and cgroups of the isolated run; what could not be removed."""
    left = []
    for entry in pwd.getpwall():
        if entry.pw_name.startswith(UID_PREFIX):
            subprocess.run(["userdel", entry.pw_name], capture_output=True)
    for group in grp.getgrall():
        if group.gr_name.startswith(UID_PREFIX):
            subprocess.run(["groupdel", group.gr_name], capture_output=True)
    layout = detect_layout()
    for hierarchy in layout.hierarchies if layout else ():
        base = hierarchy.own / cgroup_base
        if base.exists():
            for directory, _, _ in sorted(os.walk(base), key=lambda walked: -len(walked[0])):
                try:
                    os.rmdir(directory)
                except OSError as exc:
                    left.append(f"{directory}: {exc}")
    left += [f"user {e.pw_name}" for e in pwd.getpwall() if e.pw_name.startswith(UID_PREFIX)]
    left += [f"group {g.gr_name}" for g in grp.getgrall() if g.gr_name.startswith(UID_PREFIX)]
    return left


def _cron_beside(work_dir: Path, figures: Figures) -> Callable[[BurstRunner], None]:
    """The crond peer's burst, with echo timed on our idle server meanwhile."""
    def cron(runner: BurstRunner) -> None:
        figures.cron_unavailable = peer_cron.available()
        if figures.cron_unavailable is not None:
            return
        print("-- the same commands from BusyBox crond, echo timed on our idle server", flush=True)
        idle, busy_idle = runner.idle_echo()
        figures.cron = peer_cron.run_cron_burst(work_dir, ACCOUNTS, TASKS_PER_ACCOUNT, runner.start_echo)
        figures.cron.echo_idle, figures.cron.machine_busy_idle = idle, busy_idle
        ended = figures.cron.due + max(figures.cron.delays, default=0.0) + 2.0  # each runs `sleep 2`
        figures.cron.echo_burst = runner.echo_between(figures.cron.due, ended)
    return cron


def run(work_dir: Path, isolated: bool, figures: Figures) -> None:
    print("-- 500 tasks due in one minute, unisolated", flush=True)
    figures.bursts += _burst_mode(work_dir / "unisolated", "unisolated", None, _cron_beside(work_dir / "cron", figures))
    if isolated and os.geteuid() == 0:
        print("-- 500 tasks due in one minute, isolated (--sandbox full)", flush=True)
        cgroup_base = f"ide-bench-tasks-{os.getpid()}"
        try:
            figures.bursts += _burst_mode(work_dir / "isolated", "isolated", (
                "--sandbox", "full", "--uid-prefix", UID_PREFIX, "--cgroup-base", cgroup_base,
                # The egress proxy's own lookups stay on this machine (it asks about its clients).
                "--egress-dns-server", "127.0.0.1"))
        finally:
            figures.leftovers = _remove_isolation_leftovers(cgroup_base)
    elif isolated:
        figures.notes.append("The isolated run was left out: it needs root.")
    print(f"-- scheduler CPU, idle, 0 then {IDLE_TASKS} tasks", flush=True)
    (work_dir / "idle").mkdir()
    server = start_ours(work_dir / "idle")
    try:
        figures.idle = measure_idle(server, IDLE_TASKS, IDLE_SECONDS)
    finally:
        _stop(server)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-isolated", action="store_true", help="leave out the fully isolated run")
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "performance.md",
                        help="the document whose scheduled tasks section is rewritten")
    args = parser.parse_args()
    stop_on_sigterm()
    figures = Figures(command=" ".join(["bench/bench_tasks.py", *sys.argv[1:]]))
    load_before = os.getloadavg()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-tasks-") as work_dir:
        os.chmod(work_dir, 0o711)  # the programs' and crond's accounts must reach their directories below
        run(Path(work_dir), not args.no_isolated, figures)
    figures.notes.append(f"Load average (1 min) {load_before[0]:.1f} before the run and "
                         f"{os.getloadavg()[0]:.1f} after; the run took {time.monotonic() - started:.0f} s.")
    text = section(figures, machine())
    print(text)
    replace_section(args.output, "## Scheduled tasks", text)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
