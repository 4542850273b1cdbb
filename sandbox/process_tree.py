"""CPU accounting and tarpit by walking consoles' process trees.

The stand-in for cgroups when there are none (not root, or isolation off):
a user's CPU time is what their reaped consoles used plus what the live
process trees under their consoles have used so far.  Processes that leave
the tree (daemons re-parented to init) are not counted, and leaving the
tarpit cannot lower the niceness of running processes without privilege.
"""
from __future__ import annotations

import os
import signal
import threading

import psutil

from sandbox.process_table import trees_by_root

TARPIT_NICENESS = 19


class ProcessTreeUsage:
    """Per-user CPU totals and niceness, kept from the consoles' leaders."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._leaders: dict[str, set[int]] = {}
        self._finished: dict[str, float] = {}
        self._reported: dict[str, float] = {}

    def add(self, username: str, pid: int) -> None:
        """Follow a newly spawned console of ``username``."""
        with self._lock:
            self._leaders.setdefault(username, set()).add(pid)

    def reaped(self, username: str, pid: int, cpu_seconds: float) -> None:
        """A console ended; its whole tree's time is now in ``cpu_seconds``."""
        with self._lock:
            self._leaders.get(username, set()).discard(pid)
            self._finished[username] = self._finished.get(username, 0.0) + cpu_seconds

    def _processes(self, username: str) -> list[psutil.Process]:
        with self._lock:
            leaders = list(self._leaders.get(username, ()))
        return [process for tree in trees_by_root(leaders).values() for process in tree]

    def usage_seconds(self, username: str) -> float:
        """CPU seconds since the server started (walks /proc: not on the IOLoop)."""
        return self._total(username, self._processes(username))

    def usage_of_everyone(self) -> dict[str, float]:
        """:meth:`usage_seconds` of every user followed, from one scan of the process table."""
        with self._lock:
            leaders = {name: list(pids) for name, pids in self._leaders.items()}
            names = set(leaders) | set(self._finished)
        trees = trees_by_root([pid for pids in leaders.values() for pid in pids])
        return {name: self._total(name, [process for pid in leaders.get(name, ())
                                         for process in trees.get(pid, ())])
                for name in names}

    def _total(self, username: str, processes: list[psutil.Process]) -> float:
        live = 0.0
        for process in processes:
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            live += times.user + times.system + times.children_user + times.children_system
        with self._lock:
            # A child that exited but is not reaped yet drops out of the sum
            # for a moment: never report less than before.
            total = max(self._reported.get(username, 0.0), self._finished.get(username, 0.0) + live)
            self._reported[username] = total
        return total

    def kill(self, username: str) -> None:
        """SIGKILL every process in the user's console trees."""
        for process in self._processes(username):
            try:
                os.kill(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def renice(self, username: str, niceness: int) -> None:
        """Set the niceness of the user's running processes where permitted."""
        for process in self._processes(username):
            try:
                os.setpriority(os.PRIO_PROCESS, process.pid, niceness)
            except (ProcessLookupError, PermissionError):
                pass
