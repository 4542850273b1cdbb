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

TARPIT_NICENESS = 19


def _tree(pid: int) -> list[psutil.Process]:
    try:
        leader = psutil.Process(pid)
        return [leader, *leader.children(recursive=True)]
    except psutil.Error:
        return []


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

    def users(self) -> set[str]:
        with self._lock:
            return set(self._leaders) | set(self._finished)

    def _processes(self, username: str) -> list[psutil.Process]:
        with self._lock:
            leaders = list(self._leaders.get(username, ()))
        return [process for pid in leaders for process in _tree(pid)]

    def usage_seconds(self, username: str) -> float:
        """CPU seconds since the server started (walks /proc: not on the IOLoop)."""
        live = 0.0
        for process in self._processes(username):
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
