"""A user's CPU time as one total that only grows, whatever happens to groups."""
from __future__ import annotations


class CpuCounter:
    """Adds up readings of several cumulative counters (one per cgroup).

    Each cgroup's counter restarts at zero when the group is re-created, so
    the total is kept as ``total += current - last``; a reading below the last
    one is a reset and counts from zero.  A group first met with a count
    already in it (left over from before a restart) only sets the baseline:
    that time was accounted by whoever ran then.
    """

    def __init__(self) -> None:
        self._last: dict[str, int] = {}
        self._total_ns = 0

    @property
    def total_seconds(self) -> float:
        return self._total_ns / 1e9

    def start(self, key: str) -> None:
        """Count ``key`` from zero: the group was just made by us."""
        self._last[key] = 0

    def observe(self, key: str, current_ns: int) -> None:
        """Take a reading of the counter ``key`` (nanoseconds)."""
        last = self._last.get(key)
        self._last[key] = current_ns
        if last is None:
            return
        self._total_ns += current_ns if current_ns < last else current_ns - last

    def forget(self, key: str) -> None:
        """Stop following ``key``: its group has been removed."""
        self._last.pop(key, None)
