"""The nearest peer for "start many commands at one minute": BusyBox's crond, in the foreground.

Debian's cron reads the system's own crontabs and has no other spool;
BusyBox's ``crond -f -c DIR`` reads only the directory it is given, so it
runs here beside nothing of the system's.  Its jobs belong to a throwaway
Unix account (``crond`` runs a crontab's lines as the user the file is
named after, from that user's home), removed at the end.  Each line runs
the same command as our tasks, through ``sh -c`` and then ``bash -c``, with
its output to a file of its own; the start delay is the stamp the command
prints minus the real minute.
"""
from __future__ import annotations

import math
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench.task_burst import COMMAND, STAMP

FINISH_TIMEOUT = 120.0
# crond wakes at the minute; leave time to start it and for it to read the crontab first.
MIN_LEAD = 10.0


@dataclass
class CronBurst:
    delays: list[float]
    runs: int
    version: str


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


def run_cron_burst(work_dir: Path, count: int) -> CronBurst:
    """``count`` crontab lines due at the next minute; returns when every one has run (or the timeout)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    user = f"benchcron{os.getpid()}"
    home = work_dir / "home"
    logs = work_dir / "logs"
    spool = work_dir / "crontabs"
    for directory in (home, logs, spool):
        directory.mkdir()
    subprocess.run(["useradd", "--no-create-home", "--home-dir", str(home), "--shell", "/bin/bash",
                    "--user-group", user], check=True, capture_output=True)
    crond = None
    try:
        shutil.chown(home, user, user)
        shutil.chown(logs, user, user)
        due = math.ceil((time.time() + MIN_LEAD) / 60) * 60
        minute = int(due // 60) % 60
        (spool / user).write_text("".join(
            f"{minute} * * * * bash -c '{COMMAND}' >{logs}/run-{n}.log 2>&1\n" for n in range(count)))
        crond = subprocess.Popen(["busybox", "crond", "-f", "-c", str(spool), "-L", str(work_dir / "crond.log")],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(max(0.0, due - time.time()))
        deadline = time.monotonic() + FINISH_TIMEOUT
        paths = [logs / f"run-{n}.log" for n in range(count)]
        while time.monotonic() < deadline and not all(_started(path) for path in paths):
            time.sleep(1)
        time.sleep(3)  # the last ones finish their `sleep 2`
        stamps = [[float(found) for found in STAMP.findall(path.read_text())] if path.exists() else []
                  for path in paths]
        version = subprocess.run(["busybox"], capture_output=True, text=True).stdout.splitlines()[0]
        return CronBurst(delays=[s[0] - due for s in stamps if s], runs=sum(len(s) for s in stamps),
                         version=version.split(" multi-call")[0])
    finally:
        if crond is not None:
            crond.terminate()
            crond.wait(10)
        for _ in range(10):  # userdel refuses while a job of the user still runs
            if subprocess.run(["userdel", user], capture_output=True).returncode == 0:
                break
            time.sleep(2)


def _started(path: Path) -> bool:
    """The command has printed its two lines (the stamp and a random number) and is in its ``sleep``."""
    return path.exists() and path.read_text().count("\n") >= 2
