"""Programs the node's holder keeps: starting them there, taking them back, their ends.

A base class of :class:`sandbox.spawner.Sandbox`, which sets the attributes
declared here; split off so that each module keeps one job.  The holder
(sandbox/holder/) is the parent of every user program of the node, so a
program's exit is learnt from it, and a server that starts again finds the
programs an earlier one left.
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from sandbox.cgroups import UserCgroups
from sandbox.child_setup import ChildSetup
from sandbox.errors import SandboxError, SpawnError
from sandbox.holder import HeldProgram, HolderClient, HolderUnavailable
from sandbox.holder.client import ChildRefused
from sandbox.identity import Identity
from sandbox.process import SandboxedProcess
from sandbox.process_tree import ProcessTreeUsage
from sandbox.user_operations import UserOperations

log = logging.getLogger(__name__)

_CLEANUP_TRIES = 10


class HeldPrograms(UserOperations):
    holder: HolderClient
    _executor: ThreadPoolExecutor
    _guard: threading.Lock
    _live_consoles: dict[str, int]
    _trees: ProcessTreeUsage
    _cgroups: UserCgroups | None
    _releases: set[Future[None]]

    def start_held(self, identity: Identity, program_id: str, kind: str, wrapped: list[str], env: dict[str, str],
                   setup: ChildSetup, program: str, *, rows: int = 24, cols: int = 80,
                   log_fd: int | None = None, meta: dict[str, str] | None = None) -> tuple[int, int]:
        """Have the holder start a program planned by :meth:`starting` (inside its ``with``)."""
        try:
            pid, master = self.holder.spawn(program_id, kind, wrapped, env, setup.describe(), program,
                                            {**(meta or {}), "owner": identity.username,
                                             "account_type": identity.account_type},
                                            rows=rows, cols=cols, log_fd=log_fd)
        except (ChildRefused, HolderUnavailable) as exc:
            raise SpawnError(str(exc)) from None
        self.started(identity, pid)
        return pid, master

    async def held_programs(self) -> list[HeldProgram]:
        """What the node's holder keeps (a server starting again takes these back)."""
        try:
            return await self._run(self.holder.held)
        except HolderUnavailable as exc:
            raise SandboxError(str(exc)) from None

    def adopt(self, identity: Identity, held: HeldProgram) -> SandboxedProcess:
        """A console program an earlier server started, counted again as running."""
        self.started(identity, held.pid)
        if held.master >= 0:
            os.set_blocking(held.master, False)
        return SandboxedProcess(held.id, held.pid, held.master, self, on_reaped=self.reaped_callback(identity))

    async def stop_held(self, grace: float) -> int:
        """End every program the holder keeps (SIGTERM, SIGKILL after ``grace``); how many ran."""
        try:
            return await self._run(self.holder.stop_all, grace)
        except HolderUnavailable as exc:
            raise SandboxError(str(exc)) from None

    def end_held(self, held: HeldProgram) -> None:
        """Kill a program no server wants any more, and have the holder forget it."""
        if held.exit_status is None:
            for send in (os.killpg, os.kill):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    send(held.pid, signal.SIGKILL)
        if held.master >= 0:
            os.close(held.master)
        self.release(held.id)

    def exit_of(self, program_id: str) -> tuple[int, float] | None:
        return self.holder.exit_of(program_id)

    def release(self, program_id: str) -> None:
        """Let the holder forget an ended program (off the event loop, without waiting)."""
        try:
            future = self._executor.submit(self.holder.release, program_id)
        except RuntimeError:
            return  # closed: the holder is told nothing more
        self._releases.add(future)
        future.add_done_callback(self._releases.discard)
        future.add_done_callback(log_failure)

    async def _released(self) -> None:
        """Once the holder has heard every release asked for so far (before it may quit)."""
        await asyncio.gather(*(asyncio.wrap_future(future) for future in list(self._releases)),
                             return_exceptions=True)

    def started(self, identity: Identity, pid: int) -> None:
        """Count a program started through :meth:`starting` (inside its ``with``)."""
        if self._cgroups is None:
            self._trees.add(identity.username, pid)
        with self._guard:
            self._live_consoles[identity.username] = self._live_consoles.get(identity.username, 0) + 1

    def reaped_callback(self, identity: Identity) -> Callable[[Any, float], None]:
        """What a started program's handle calls once it is reaped."""
        return functools.partial(self._on_reaped, identity.username)

    def _on_reaped(self, username: str, process: Any, cpu_seconds: float) -> None:
        with self._guard:
            self._live_consoles[username] = max(0, self._live_consoles.get(username, 0) - 1)
        if self._cgroups is None:
            self._trees.reaped(username, process.pid, cpu_seconds)
            return
        try:
            future = self._executor.submit(self._remove_groups_when_empty, username)
        except RuntimeError:
            return  # closed: close() removes what is left
        future.add_done_callback(log_failure)

    def _remove_groups_when_empty(self, username: str) -> None:
        # The namespace dies a moment after its holder is reaped.
        assert self._cgroups is not None
        for _ in range(_CLEANUP_TRIES):
            with self._user_lock(username):
                if self._live(username) or self._cgroups.remove_if_empty(username):
                    return
            time.sleep(0.02)



def log_failure(future: Future[None]) -> None:
    if future.exception() is not None:
        log.error("cleaning up after a program failed", exc_info=future.exception())
