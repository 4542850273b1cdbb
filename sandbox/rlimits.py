"""Per-process limits: the only brake available without cgroups.

They are weaker than cgroups: ``RLIMIT_AS`` counts address space rather
than memory, ``RLIMIT_CPU`` is per process, and ``RLIMIT_NPROC`` counts
every process of the uid, which without uid switching is the server's own.
"""
from __future__ import annotations

import os
import resource

from sandbox.child_setup import Rlimit
from sandbox.limits import AccountLimits

_CPU_GRACE_SECONDS = 5
"""Between SIGXCPU at the soft limit and SIGKILL at the hard one."""


def processes_of_uid(uid: int) -> int:
    """How many processes ``uid`` runs now (what RLIMIT_NPROC compares with)."""
    count = 0
    with os.scandir("/proc") as entries:
        for entry in entries:
            if entry.name.isdigit():
                try:
                    if entry.stat().st_uid == uid:
                        count += 1
                except FileNotFoundError:
                    pass
    return count


def _within_hard_limit(which: int, soft: int, hard: int) -> Rlimit:
    """Never ask for more than the server's own hard limit (that fails unprivileged)."""
    current_hard = resource.getrlimit(which)[1]
    if current_hard != resource.RLIM_INFINITY:
        hard = min(hard, current_hard)
        soft = min(soft, hard)
    return which, soft, hard


def fallback_rlimits(limits: AccountLimits, running_processes: int) -> list[Rlimit]:
    """Limits for a process that shares the server's uid.

    ``running_processes`` is the uid's process count at spawn time: the
    console may add ``max_pids`` to it, as RLIMIT_NPROC cannot count per user.
    """
    result: list[Rlimit] = []
    if limits.memory_bytes is not None:
        result.append(_within_hard_limit(resource.RLIMIT_AS, limits.memory_bytes, limits.memory_bytes))
    if limits.max_pids is not None:
        nproc = running_processes + limits.max_pids
        result.append(_within_hard_limit(resource.RLIMIT_NPROC, nproc, nproc))
    if limits.daily_cpu_seconds is not None:
        seconds = int(limits.daily_cpu_seconds)
        result.append(_within_hard_limit(resource.RLIMIT_CPU, seconds, seconds + _CPU_GRACE_SECONDS))
    return result


def isolated_rlimits(limits: AccountLimits, controllers: frozenset[str]) -> list[Rlimit]:
    """Limits standing in for controllers missing on an otherwise isolated host.

    The user has a uid of their own, so RLIMIT_NPROC counts just them.
    """
    result: list[Rlimit] = []
    if "memory" not in controllers and limits.memory_bytes is not None:
        result.append(_within_hard_limit(resource.RLIMIT_AS, limits.memory_bytes, limits.memory_bytes))
    if "pids" not in controllers and limits.max_pids is not None:
        result.append(_within_hard_limit(resource.RLIMIT_NPROC, limits.max_pids, limits.max_pids))
    return result
