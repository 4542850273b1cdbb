"""Who is below whom in the host's process table, from one pass over ``/proc``.

psutil's ``children()`` re-reads the whole table on every call, and
``process_iter()`` builds an object per process on the host; walking many
consoles' trees that way costs a full scan each.  Here one read of every
``/proc/<pid>/stat`` answers for all of them.  Blocking: call it off the
IOLoop.
"""
from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable

import psutil


def _children_map() -> dict[int, list[int]]:
    """Parent pid → child pids, for every process on the host."""
    children: dict[int, list[int]] = defaultdict(list)
    with os.scandir("/proc") as entries:
        for entry in entries:
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as handle:
                    stat = handle.read()
            except OSError:
                continue  # it ended while we looked
            # The command name (field 2) may hold spaces and parentheses: the
            # fields after it start past the last ')'; field 4 is the parent.
            fields = stat[stat.rindex(b")") + 2:].split(b" ", 2)
            children[int(fields[1])].append(int(entry.name))
    return children


def descendants_by_root(root_pids: Iterable[int]) -> dict[int, list[psutil.Process]]:
    """Every process below each root (not the root itself), children before grandchildren.

    psutil objects, so that a kill or a read later on refuses a pid that was
    reused in between.  A process that ended during the scan is left out.
    """
    roots = list(root_pids)
    if not roots:
        return {}
    children = _children_map()
    found: dict[int, list[psutil.Process]] = {}
    for root in roots:
        below: list[psutil.Process] = []
        seen = {root}
        queue = list(children.get(root, ()))
        while queue:
            pid = queue.pop(0)
            if pid in seen:
                continue
            seen.add(pid)
            try:
                below.append(psutil.Process(pid))
            except psutil.Error:
                continue
            queue += children.get(pid, ())
        found[root] = below
    return found


def trees_by_root(root_pids: Iterable[int]) -> dict[int, list[psutil.Process]]:
    """Each root still running, followed by everything below it (one scan for all)."""
    found: dict[int, list[psutil.Process]] = {}
    for root, below in descendants_by_root(root_pids).items():
        try:
            found[root] = [psutil.Process(root), *below]
        except psutil.Error:
            continue  # it has just ended
    return found
