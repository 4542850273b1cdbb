"""The nearest peer for "start many commands at one minute": BusyBox's crond, in the foreground.

Debian's cron reads the system's own crontabs and has no other spool;
BusyBox's ``crond -f -c DIR`` reads only the directory it is given, so it
runs here beside nothing of the system's.  Its jobs belong to a throwaway
Unix accounts (``crond`` runs a crontab's lines as the user the file is
named after, from that user's home), removed at the end.  Each line runs
the same command as our tasks, through ``sh -c`` and then ``bash -c``, with
its output to a file of its own; the start delay is the stamp the command
prints minus the real minute.  A hook runs just before the minute, so that
echo on our (otherwise idle) server can be timed while crond's jobs start.
"""
from __future__ import annotations

import math
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from bench.task_burst import COMMAND, STAMP, busy_share

FINISH_TIMEOUT = 120.0
# crond wakes at the minute; leave time to start it and for it to read the crontab first.
MIN_LEAD = 10.0


@dataclass
class CronBurst:
    delays: list[float]
    runs: int
    version: str
    due: float
    """The real minute the lines were due at (epoch seconds)."""
    machine_busy: float
    echo_idle: list[float] = field(default_factory=list)
    """Echo on our server, idle, just before; and while crond's jobs ran."""
    echo_burst: list[float] = field(default_factory=list)
    machine_busy_idle: float = 0.0


def available() -> str | None:
    """Why the peer cannot run here, or None when it can."""
    if os.geteuid() != 0:
        return "crond must start as root to run jobs as another user"
    if shutil.which("busybox") is None:
        return "BusyBox is not installed (Debian: apt-get install busybox-static)"
    probe = subprocess.run(["busybox", "crond", "--help"], capture_output=True, text=True)
    if "Usage: crond" not in probe.stdout + probe.stderr:
        return "this BusyBox has no crond applet (Debian's busybox-static has one)"
    return None


def run_cron_burst(work_dir: Path, users: int, per_user: int, before_minute: Callable[[], None]) -> CronBurst:
    """``per_user`` crontab lines for each of ``users`` throwaway accounts, due at the next minute.

    Several accounts, as on our side (and BusyBox reads at most 256 lines
    of a crontab not root's).  Returns when every line has run, or after
    the timeout.  ``before_minute`` is called about a second before the minute.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    names = [f"benchcron{os.getpid()}x{n}" for n in range(users)]
    logs = work_dir / "logs"
    spool = work_dir / "crontabs"
    logs.mkdir()
    spool.mkdir()
    logs.chmod(0o1777)
    made: list[str] = []
    crond = None
    try:
        for name in names:
            home = work_dir / name
            home.mkdir()
            subprocess.run(["useradd", "--no-create-home", "--home-dir", str(home), "--shell", "/bin/bash",
                            "--user-group", name], check=True, capture_output=True)
            made.append(name)
            shutil.chown(home, name, name)
        due = math.ceil((time.time() + MIN_LEAD) / 60) * 60
        minute = int(due // 60) % 60
        for index, name in enumerate(names):
            (spool / name).write_text("".join(
                f"{minute} * * * * bash -c '{COMMAND}' >{logs}/run-{index}-{n}.log 2>&1\n" for n in range(per_user)))
        crond = subprocess.Popen(["busybox", "crond", "-f", "-c", str(spool), "-L", str(work_dir / "crond.log")],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(max(0.0, due - 1.0 - time.time()))
        before_minute()
        machine_before = psutil.cpu_times()
        time.sleep(max(0.0, due - time.time()))
        deadline = time.monotonic() + FINISH_TIMEOUT
        paths = [logs / f"run-{index}-{n}.log" for index in range(users) for n in range(per_user)]
        while time.monotonic() < deadline and not all(_started(path) for path in paths):
            time.sleep(1)
        time.sleep(3)  # the last ones finish their `sleep 2`
        machine_busy = busy_share(machine_before, psutil.cpu_times())
        stamps = [[float(found) for found in STAMP.findall(path.read_text())] if path.exists() else []
                  for path in paths]
        version = subprocess.run(["busybox"], capture_output=True, text=True).stdout.splitlines()[0]
        return CronBurst(delays=[s[0] - due for s in stamps if s], runs=sum(len(s) for s in stamps),
                         version=version.split(" multi-call")[0], due=due, machine_busy=machine_busy)
    finally:
        if crond is not None:
            crond.terminate()
            crond.wait(10)
        for name in made:
            for _ in range(10):  # userdel refuses while a job of the user still runs
                if subprocess.run(["userdel", name], capture_output=True).returncode == 0:
                    break
                time.sleep(2)


def _started(path: Path) -> bool:
    """The command has printed its two lines (the stamp and a random number) and is in its ``sleep``."""
    return path.exists() and path.read_text().count("\n") >= 2
