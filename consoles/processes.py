"""A user's processes: everything their live consoles started, and killing one of them.

Finding children means reading ``/proc`` for every process on the host, so
the public coroutines run that work in the default executor rather than on
the IOLoop.
"""
from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

import psutil

from sandbox import descendants_by_root, trees_by_root


class ProcessNotYours(Exception):
    """A kill was asked for a pid outside the user's consoles."""


@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    command: str
    cpu_seconds: float
    memory_bytes: int


def kill_processes(processes: Iterable[psutil.Process]) -> None:
    """SIGKILL each process still running (psutil refuses pids reused since they were listed)."""
    for process in processes:
        try:
            process.kill()
        except psutil.Error:
            pass


def _tree(root_pids: tuple[int, ...]) -> list[psutil.Process]:
    """Every process of these consoles, each once, by pid."""
    found = {process.pid: process for tree in trees_by_root(root_pids).values() for process in tree}
    return [found[pid] for pid in sorted(found)]


def _describe(process: psutil.Process) -> ProcessInfo | None:
    try:
        with process.oneshot():
            cmdline = process.cmdline()
            times = process.cpu_times()
            rss = process.memory_info().rss
            command = " ".join(cmdline) if cmdline else f"[{process.name()}]"
    except psutil.Error:
        return None  # ended while we looked
    return ProcessInfo(pid=process.pid, command=command,
                       cpu_seconds=round(times.user + times.system, 2), memory_bytes=rss)


def _list(root_pids: tuple[int, ...]) -> list[ProcessInfo]:
    described = (_describe(process) for process in _tree(root_pids))
    return [info for info in described if info is not None]


def _kill(pid: int, root_pids: tuple[int, ...]) -> None:
    for process in _tree(root_pids):
        if process.pid == pid:
            kill_processes([process])
            return
    raise ProcessNotYours(f"Process {pid} is not running in any of your consoles.")


async def list_processes(root_pids: Iterable[int]) -> list[ProcessInfo]:
    """The processes of the consoles whose programs are ``root_pids``, by pid."""
    return await asyncio.get_running_loop().run_in_executor(None, _list, tuple(root_pids))


async def cpu_seconds_by_root(root_pids: Iterable[int]) -> dict[int, float]:
    """The CPU seconds of each console's processes now running, by its program's pid.

    One scan of ``/proc`` for all of them: a listing of many consoles would
    otherwise scan the host once per console.  A root that has ended is left out.
    """
    return await asyncio.get_running_loop().run_in_executor(None, _cpu_by_root, tuple(root_pids))


def _cpu_by_root(root_pids: tuple[int, ...]) -> dict[int, float]:
    totals = {}
    for root, tree in trees_by_root(root_pids).items():
        described = (_describe(process) for process in tree)
        totals[root] = round(sum(info.cpu_seconds for info in described if info is not None), 2)
    return totals


async def kill_process(pid: int, root_pids: Iterable[int]) -> None:
    """SIGKILL ``pid`` if it belongs to those consoles, else raise :class:`ProcessNotYours`."""
    await asyncio.get_running_loop().run_in_executor(None, _kill, pid, tuple(root_pids))


async def find_descendants(root_pids: Iterable[int]) -> dict[int, list[psutil.Process]]:
    """The processes below each of ``root_pids``, found off the IOLoop (to kill them with their console)."""
    return await asyncio.get_running_loop().run_in_executor(None, descendants_by_root,
                                                            tuple(root_pids))
