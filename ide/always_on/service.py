"""Always-on tasks: stored in Redis, run by the supervisor like web apps.

A task is ``bash -c <command>`` as the user, in their sandbox, started at
once, restarted with back-off whenever it ends, its output in
``/var/log/alwayson-log-<id>.log``.  Free accounts have none, hacker 1,
web_developer 3.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import redis.asyncio as aioredis

from consoles.keys import ALWAYS_ON_NEXT_ID, always_on_key, user_always_on_key
from ide.accounts import AccountStore, User
from ide.webapps.service import as_bool
from sandbox import Identity, Sandbox
from supervisor import ProgramSpec, ProgramStatus, RestartPolicy, Supervisor

TASK_LIMITS = {"anon": 0, "free": 0, "hacker": 1, "web_developer": 3}

# KEYS: the user's set, the id counter; ARGV: limit, then field/value pairs.
_CREATE = """
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[1]) then return -1 end
local id = redis.call('INCR', KEYS[2])
redis.call('HSET', 'ide:alwayson:' .. id, unpack(ARGV, 2))
redis.call('SADD', KEYS[1], id)
return id
"""


class TaskInvalid(Exception):
    """A refused always-on task request; the message says why."""


class TaskNotFound(Exception):
    """No such always-on task of this user."""


@dataclass(frozen=True)
class AlwaysOnTask:
    id: int
    user: str
    command: str
    description: str
    enabled: bool

    @property
    def program(self) -> str:
        return f"alwayson:{self.id}"

    @property
    def logfile(self) -> str:
        return f"/var/log/alwayson-log-{self.id}.log"


class AlwaysOnService:
    def __init__(self, redis: aioredis.Redis, sandbox: Sandbox, supervisor: Supervisor,
                 accounts: AccountStore) -> None:
        self.redis = redis
        self.accounts = accounts
        self.sandbox = sandbox
        self.supervisor = supervisor
        self._create = redis.register_script(_CREATE)

    async def start(self) -> None:
        """At the node's start: keep every enabled task running (taking back those that
        outlived the previous run, which the supervisor recognises by pid)."""
        for user in await self.accounts.all_users():
            for task in await self.list(user):
                if task.enabled and not await self.supervisor.runs_elsewhere(task.program):
                    await self.supervisor.ensure_running(await self._spec(user, task))

    async def list(self, user: User) -> list[AlwaysOnTask]:
        ids = sorted(int(i) for i in cast(set[str], await self.redis.smembers(user_always_on_key(user.name))))
        return [task for task in [await self._load(i) for i in ids] if task is not None]

    async def create(self, user: User, body: Mapping[str, Any]) -> AlwaysOnTask:
        command = body.get("command")
        if not isinstance(command, str) or not command.strip():
            raise TaskInvalid("command is required: the command to keep running.")
        description = str(body.get("description") or "")
        enabled = as_bool("enabled", body.get("enabled", True))
        limit = TASK_LIMITS.get(user.account_type, 0)
        fields = {"user": user.name, "command": command, "description": description,
                  "enabled": "1" if enabled else "0", "created": repr(time.time())}
        task_id = int(await self._create(keys=[user_always_on_key(user.name), ALWAYS_ON_NEXT_ID],
                                         args=[limit, *(item for pair in fields.items() for item in pair)]))
        if task_id < 0:
            raise TaskInvalid(f"Your account can have {limit} always-on task{'s' if limit != 1 else ''}.")
        task = AlwaysOnTask(task_id, user.name, command, description, enabled)
        if enabled:
            await self.supervisor.ensure_running(await self._spec(user, task))
        return task

    async def get(self, user: User, task_id: str) -> AlwaysOnTask:
        task = await self._load(int(task_id)) if task_id.isdigit() else None
        if task is None or task.user != user.name:
            raise TaskNotFound(f"You have no always-on task {task_id}.")
        return task

    async def update(self, user: User, task_id: str, body: Mapping[str, Any]) -> AlwaysOnTask:
        task = await self.get(user, task_id)
        changes: dict[str, Any] = {}
        for field, value in body.items():
            if field in ("command", "description"):
                if not isinstance(value, str) or (field == "command" and not value.strip()):
                    raise TaskInvalid(f"{field} must be {'a command' if field == 'command' else 'text'}.")
                changes[field] = value
            elif field == "enabled":
                changes[field] = as_bool(field, value)
            elif field not in ("id", "user", "state", "logfile", "url"):
                raise TaskInvalid(f"{field} cannot be changed here.")
        updated = replace(task, **changes)
        await self.redis.hset(always_on_key(task.id), mapping={
            "command": updated.command, "description": updated.description,
            "enabled": "1" if updated.enabled else "0"})
        if updated != task:
            await self.restart(user, updated, start=updated.enabled)
        return updated

    async def restart(self, user: User, task: AlwaysOnTask, start: bool = True) -> None:
        if self.supervisor.known(task.program):
            await self.supervisor.stop(task.program)
        if start and task.enabled:
            await self.supervisor.ensure_running(await self._spec(user, task))

    async def delete(self, user: User, task_id: str) -> None:
        task = await self.get(user, task_id)
        await self.supervisor.remove(task.program)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(always_on_key(task.id))
            pipe.srem(user_always_on_key(user.name), task.id)
            await pipe.execute()

    def status(self, task: AlwaysOnTask) -> ProgramStatus | None:
        return self.supervisor.status(task.program) if self.supervisor.known(task.program) else None

    async def _load(self, task_id: int) -> AlwaysOnTask | None:
        fields = cast(dict[str, str], await self.redis.hgetall(always_on_key(task_id)))
        if not fields:
            return None
        return AlwaysOnTask(task_id, fields["user"], fields.get("command", ""), fields.get("description", ""),
                            fields.get("enabled", "1") == "1")

    async def _spec(self, user: User, task: AlwaysOnTask) -> ProgramSpec:
        identity: Identity = await _identity(self.sandbox, user)
        log = Path(self.sandbox.host_places(identity).log) / f"alwayson-log-{task.id}.log"
        return ProgramSpec(name=task.program, identity=identity, argv=("bash", "-c", task.command),
                           cwd=identity.visible_home, log=log, event_log=log, restart=RestartPolicy.ALWAYS)


async def _identity(sandbox: Sandbox, user: User) -> Identity:
    return await asyncio.to_thread(sandbox.identity, user.name, user.account_type)
