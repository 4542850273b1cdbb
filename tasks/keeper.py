"""A node keeps its always-on tasks running as their records in Redis say.

Whatever changes a task (the API on any node, a downgrade) writes Redis and
publishes the task's id; the node that keeps the task re-reads the record
and makes its supervisor match: start, stop, restart for a new command or
an asked-for restart, remove when deleted.  On start the node does this for
every task it keeps: the supervisor takes back the programs an earlier
server left running (they outlive restarts of the server) and starts the
others, so tasks come back whatever happened to the node.
"""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import redis.asyncio as aioredis

from consoles.keys import ALWAYS_ON_CHANNEL
from consoles.subscription import Subscription
from sandbox import Identity, Sandbox
from supervisor import ProgramSpec, RestartPolicy, Supervisor
from supervisor.spec import Backoff
from tasks.always_on import AlwaysOnNotFound, AlwaysOnStore, AlwaysOnTask
from tasks.log_rotation import rotate_if_large
from tasks.logs import always_on_log_path
from tasks.runner import IdentityOf

log = logging.getLogger(__name__)

STOP_GRACE = 10.0
ROTATION_CHECK_SECONDS = 60.0
"""How often the logs of this node's always-on tasks are checked for size."""
KEEP_TRYING = Backoff(first_delay=1.0, max_delay=300.0, max_failures=1_000_000, stable_seconds=60.0)
"""Always-on means always: a crash loop backs off up to five minutes between tries, and never gives up."""


def program_name(task_id: int) -> str:
    return f"alwayson-{task_id}"


class AlwaysOnKeeper:
    def __init__(self, redis: aioredis.Redis, store: AlwaysOnStore, sandbox: Sandbox, supervisor: Supervisor,
                 identity_of: IdentityOf, node: str) -> None:
        self._store = store
        self._sandbox = sandbox
        self._supervisor = supervisor
        self._identity_of = identity_of
        self._node = node
        # What each running program was started from: the command and the restart count.
        self._started_from: dict[int, tuple[str, int]] = {}
        self._logs: dict[int, tuple[Path, Identity]] = {}
        self._rotation: asyncio.Task[None] | None = None
        self._subscription = Subscription(redis, ALWAYS_ON_CHANNEL, self._on_message, "always-on tasks")

    async def start(self) -> None:
        await self._subscription.start()
        for task_id in await self._store.kept_by(self._node):
            await self.reconcile(task_id)
        self._rotation = asyncio.ensure_future(self._rotate_logs())

    async def stop(self) -> None:
        """Stop listening; the programs keep running and the next server takes them back."""
        await self._subscription.stop()
        if self._rotation is not None:
            self._rotation.cancel()

    async def _on_message(self, message: str) -> None:
        if message.isdigit():
            try:
                await self.reconcile(int(message))
            except Exception:
                log.exception("always-on task %s could not be brought in line with its record", message)

    async def reconcile(self, task_id: int) -> None:
        name = program_name(task_id)
        try:
            task = await self._store.find(task_id)
        except AlwaysOnNotFound:
            self._logs.pop(task_id, None)
            if task_id in self._started_from:
                self._started_from.pop(task_id)
                await self._supervisor.remove(name)
            return
        if task.node != self._node:
            return
        if not task.enabled:
            if self._supervisor.known(name):
                await self._supervisor.stop(name)
            self._started_from.pop(task_id, None)
            return
        wanted = (task.command, task.restarts_requested)
        previous = self._started_from.get(task_id)
        if previous is not None and previous != wanted and self._supervisor.known(name):
            await self._supervisor.stop(name)
        self._started_from[task_id] = wanted
        await self._supervisor.ensure_running(await self._spec(task))

    async def _spec(self, task: AlwaysOnTask) -> ProgramSpec:
        identity = await self._identity_of(task.owner)
        log_file = Path(self._sandbox.host_places(identity).log) / Path(always_on_log_path(task.id)).name
        self._logs[task.id] = (log_file, identity)
        return ProgramSpec(name=program_name(task.id), identity=identity, argv=("bash", "-c", task.command),
                           cwd=identity.visible_home,
                           log=log_file, event_log=log_file, restart=RestartPolicy.ALWAYS,
                           ready_seconds=1.0, stop_grace=STOP_GRACE, backoff=KEEP_TRYING)

    async def _rotate_logs(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(ROTATION_CHECK_SECONDS)
            for task_id in list(self._started_from):
                if task_id in self._logs:
                    path, identity = self._logs[task_id]
                    try:
                        await loop.run_in_executor(None, rotate_if_large, path, identity)
                    except OSError as exc:
                        log.warning("could not rotate %s: %s", path, exc)
