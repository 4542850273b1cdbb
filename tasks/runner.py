"""Scheduled runs as programs of the node's one supervisor.

A run is ``bash -c <command>`` as the task's owner, in their home, with no
terminal, through the same sandbox as their consoles (uid, cgroups, so its
CPU counts against the daily allowance and the tarpit applies, namespaces,
network policy).  Its log gets a header line before the program starts and
a footer with the exit status and duration after it ends; the lines are
written through the same guarded open as the program's output (never
following a link the user planted).
"""
from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from sandbox import Identity, Sandbox, SpawnError
from sandbox.background import open_log
from supervisor import ProgramSpec, RestartPolicy, Supervisor
from tasks.logs import task_log_path
from tasks.scheduler import log_time
from tasks.store import ScheduledTask

IdentityOf = Callable[[str], Awaitable[Identity]]
"""The sandbox identity of a user, by name (their account type decides their limits)."""

STOP_GRACE = 10.0


def program_name(task_id: int) -> str:
    return f"task-{task_id}"


class ScheduledRuns:
    """Starts, waits for and stops scheduled runs on this node."""

    def __init__(self, sandbox: Sandbox, supervisor: Supervisor, identity_of: IdentityOf) -> None:
        self._sandbox = sandbox
        self._supervisor = supervisor
        self._identity_of = identity_of

    def log_file(self, identity: Identity, task_id: int) -> Path:
        """The run log on the host: the owner's ``/var/log`` directory."""
        return Path(self._sandbox.host_places(identity).log) / Path(task_log_path(task_id)).name

    async def run(self, task: ScheduledTask) -> tuple[int, float]:
        identity = await self._identity_of(task.owner)
        log_file = self.log_file(identity, task.id)
        started = time.time()
        await self._append(log_file, identity, f"--- {log_time(started)}: started `{task.fields.command}`\n")
        name = program_name(task.id)
        spec = ProgramSpec(name=name, identity=identity, argv=("bash", "-c", task.fields.command),
                           cwd=identity.visible_home,
                           log=log_file, restart=RestartPolicy.NEVER, ready_seconds=0.0,
                           stop_grace=STOP_GRACE)
        await self._supervisor.ensure_running(spec)
        status = await self._supervisor.wait_ended(name)
        await self._supervisor.remove(name)
        duration = time.time() - started
        if status.starts == 0 or status.exit_status is None:
            exit_status, outcome = 127, f"could not start: {status.last_error}"
        else:
            exit_status, outcome = status.exit_status, f"exit status {status.exit_status}"
        await self._append(log_file, identity,
                           f"--- {log_time(time.time())}: finished, {outcome}, after {duration:.1f} s\n")
        return exit_status, duration

    async def note(self, task: ScheduledTask, line: str) -> None:
        identity = await self._identity_of(task.owner)
        await self._append(self.log_file(identity, task.id), identity, f"--- {line}\n")

    async def stop(self, task_id: int) -> None:
        name = program_name(task_id)
        if self._supervisor.known(name):
            await self._supervisor.stop(name)

    @staticmethod
    async def _append(path: Path, identity: Identity, text: str) -> None:
        await asyncio.get_running_loop().run_in_executor(None, _append_blocking, path, identity, text)


def _append_blocking(path: Path, identity: Identity, text: str) -> None:
    try:
        fd = open_log(path, identity.owner)
    except SpawnError:
        return  # the log is not a plain file of the user's: the run's own open reports it
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
