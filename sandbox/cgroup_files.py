"""How limits and counters are spelled in cgroup v1 and v2 interface files."""
from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Protocol

from sandbox.errors import SandboxError
from sandbox.limits import AccountLimits, cpu_weight_from_shares


class CgroupError(SandboxError):
    """A cgroup operation failed; the message says which file and why."""


def write_value(path: Path, value: str) -> None:
    """Write one value to an interface file, naming the file if it fails."""
    try:
        with open(path, "w") as handle:
            handle.write(value)
    except OSError as exc:
        raise CgroupError(f"cannot write {value!r} to {path}: {exc.strerror or exc}") from None


def read_pids(group: Path) -> list[int]:
    """The processes in a group (empty when the group is gone)."""
    try:
        return [int(line) for line in (group / "cgroup.procs").read_text().split()]
    except FileNotFoundError:
        return []
    except OSError as exc:
        if exc.errno in (errno.ENODEV, errno.ENOENT):
            return []
        raise CgroupError(f"cannot read {group / 'cgroup.procs'}: {exc.strerror or exc}") from None


def move_pid(pid: int, group: Path) -> bool:
    """Move one process into ``group``; False if it has already exited."""
    try:
        fd = os.open(group / "cgroup.procs", os.O_WRONLY)
    except OSError as exc:
        raise CgroupError(f"cannot open {group / 'cgroup.procs'}: {exc.strerror or exc}") from None
    try:
        os.write(fd, str(pid).encode())
    except ProcessLookupError:
        return False
    except OSError as exc:
        raise CgroupError(f"cannot move process {pid} into {group}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    return True


class CgroupFiles(Protocol):
    """The version-specific part: which file holds what."""

    version: int

    def apply_limits(self, group: Path, limits: AccountLimits, controllers: frozenset[str]) -> None:
        """Write CPU weight, memory and pids limits for the controllers present."""

    def make_tarpit(self, group: Path, shares: int) -> None:
        """Give ``group`` the least CPU time the kernel can express."""

    def usage_ns(self, group: Path) -> int | None:
        """Cumulative CPU time of the group, None if it is gone."""


class V1Files:
    """cgroup v1: one hierarchy per controller (or per controller set)."""

    version = 1

    def apply_limits(self, group: Path, limits: AccountLimits, controllers: frozenset[str]) -> None:
        if "cpu" in controllers:
            write_value(group / "cpu.shares", str(limits.cpu_shares))
        if "memory" in controllers:
            self._set_memory(group, -1 if limits.memory_bytes is None else limits.memory_bytes)
        if "pids" in controllers:
            write_value(group / "pids.max", "max" if limits.max_pids is None else str(limits.max_pids))

    @staticmethod
    def _set_memory(group: Path, value: int) -> None:
        # memory+swap must never be below memory alone: raise it first when
        # growing, lower it last when shrinking, so swap cannot bypass the limit.
        limit, memsw = group / "memory.limit_in_bytes", group / "memory.memsw.limit_in_bytes"
        if not memsw.exists():
            write_value(limit, str(value))
            return
        current = int(limit.read_text())
        if value == -1 or value > current:
            write_value(memsw, str(value))
            write_value(limit, str(value))
        else:
            write_value(limit, str(value))
            write_value(memsw, str(value))

    def make_tarpit(self, group: Path, shares: int) -> None:
        write_value(group / "cpu.shares", str(shares))

    def usage_ns(self, group: Path) -> int | None:
        try:
            return int((group / "cpuacct.usage").read_text())
        except (FileNotFoundError, ValueError):
            return None


class V2Files:
    """cgroup v2: one tree, ``cpu.weight``, ``memory.max``, ``cpu.stat``."""

    version = 2

    def apply_limits(self, group: Path, limits: AccountLimits, controllers: frozenset[str]) -> None:
        if "cpu" in controllers:
            write_value(group / "cpu.weight", str(cpu_weight_from_shares(limits.cpu_shares)))
        if "memory" in controllers:
            write_value(group / "memory.max",
                        "max" if limits.memory_bytes is None else str(limits.memory_bytes))
            if (group / "memory.swap.max").exists():
                write_value(group / "memory.swap.max", "max" if limits.memory_bytes is None else "0")
        if "pids" in controllers:
            write_value(group / "pids.max", "max" if limits.max_pids is None else str(limits.max_pids))

    def make_tarpit(self, group: Path, shares: int) -> None:
        # cpu.idle gives the group SCHED_IDLE treatment against its siblings,
        # far below what the smallest weight can say.
        if (group / "cpu.idle").exists():
            write_value(group / "cpu.idle", "1")
        else:
            write_value(group / "cpu.weight", str(cpu_weight_from_shares(shares)))

    def usage_ns(self, group: Path) -> int | None:
        try:
            text = (group / "cpu.stat").read_text()
        except FileNotFoundError:
            return None
        for line in text.splitlines():
            name, _, value = line.partition(" ")
            if name == "usage_usec":
                return int(value) * 1000
        return None
