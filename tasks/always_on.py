"""Always-on tasks kept in Redis: what the user asked for, and which node keeps each one running.

The hash is the wanted state (command, enabled, how many restarts were
asked for); the node named in it reconciles its supervisor with that
whenever ``ide:alwayson`` carries the task's id, and when it starts.  A
forged message there makes a node re-read Redis, nothing more.
"""
from __future__ import annotations

import builtins
import time
from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aioredis

from consoles.keys import (
    ALWAYS_ON_CHANNEL,
    ALWAYS_ON_IDS,
    always_on_key,
    node_always_on_key,
    user_always_on_key,
)
from tasks.fields import command_field, description_field, flag_field
from tasks.timing import TaskInvalid

ALWAYS_ON_LIMITS = {"anon": 0, "free": 0, "hacker": 1, "web_developer": 3}

# KEYS: user's set, id counter; ARGV: limit, task key prefix, the node's set, node, field/value pairs...
_CREATE = """
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[1]) then return -1 end
local id = redis.call('INCR', KEYS[2])
redis.call('HSET', ARGV[2] .. id, unpack(ARGV, 5))
redis.call('SADD', KEYS[1], id)
redis.call('SADD', ARGV[3], id)
return id
"""

# KEYS: task; ARGV: owner, field/value pairs...
_CHANGE = """
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
return 1
"""

# KEYS: task; ARGV: owner
_RESTART = """
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
return redis.call('HINCRBY', KEYS[1], 'restarts_requested', 1)
"""

# KEYS: task, user's set, node's set; ARGV: owner, id
_DELETE = """
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[2])
redis.call('SREM', KEYS[3], ARGV[2])
return 1
"""


class AlwaysOnNotFound(LookupError):
    def __init__(self) -> None:
        super().__init__("No such always-on task.")


@dataclass(frozen=True)
class AlwaysOnTask:
    id: int
    owner: str
    command: str
    description: str
    enabled: bool
    node: str
    created: float
    restarts_requested: int

    @classmethod
    def from_hash(cls, task_id: int, raw: dict[str, str]) -> AlwaysOnTask:
        return cls(id=task_id, owner=raw["owner"], command=raw["command"],
                   description=raw.get("description", ""), enabled=raw.get("enabled") == "1",
                   node=raw.get("node", ""), created=float(raw.get("created", "0")),
                   restarts_requested=int(raw.get("restarts_requested", "0")))


def _limit_message(account_type: str, limit: int) -> str:
    if limit == 0:
        return f"A {account_type} account cannot have always-on tasks; upgrade to keep a program running."
    return (f"A {account_type} account can have {limit} always-on task{'s' if limit > 1 else ''}; "
            "delete one or upgrade to add another.")


class AlwaysOnStore:
    """Users' always-on tasks; every method but :meth:`find` checks the task is the caller's."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    async def create(self, owner: str, account_type: str, body: dict[str, Any], node: str,
                     now: float | None = None) -> AlwaysOnTask:
        if "command" not in body:
            raise TaskInvalid("command is required.")
        command = command_field(body["command"])
        description = description_field(body.get("description"))
        enabled = flag_field("enabled", body.get("enabled", True))
        limit = ALWAYS_ON_LIMITS.get(account_type, 0)
        now = time.time() if now is None else now
        values = ["owner", owner, "command", command, "description", description,
                  "enabled", "1" if enabled else "0", "node", node, "created", repr(now),
                  "restarts_requested", "0"]
        task_id = int(await self.redis.eval(
            _CREATE, 2, user_always_on_key(owner), ALWAYS_ON_IDS, limit, always_on_key(""),
            node_always_on_key(node), node, *values))
        if task_id < 0:
            raise TaskInvalid(_limit_message(account_type, limit))
        await self.redis.publish(ALWAYS_ON_CHANNEL, str(task_id))
        return AlwaysOnTask(id=task_id, owner=owner, command=command, description=description,
                            enabled=enabled, node=node, created=now, restarts_requested=0)

    async def find(self, task_id: int) -> AlwaysOnTask:
        """Any user's task, for the node keeping it (never for a request: use :meth:`get`)."""
        raw = cast(dict[str, str], await self.redis.hgetall(always_on_key(task_id)))
        if "owner" not in raw:
            raise AlwaysOnNotFound()
        return AlwaysOnTask.from_hash(task_id, raw)

    async def get(self, owner: str, task_id: int) -> AlwaysOnTask:
        task = await self.find(task_id)
        if task.owner != owner:
            raise AlwaysOnNotFound()
        return task

    async def list(self, owner: str) -> list[AlwaysOnTask]:
        ids = sorted(int(i) for i in cast(set[str], await self.redis.smembers(user_always_on_key(owner))))
        found = []
        for task_id in ids:
            try:
                found.append(await self.get(owner, task_id))
            except AlwaysOnNotFound:
                continue
        return found

    async def kept_by(self, node: str) -> builtins.list[int]:
        """Ids of the tasks ``node`` keeps running."""
        return sorted(int(i) for i in cast(set[str], await self.redis.smembers(node_always_on_key(node))))

    async def change(self, owner: str, task_id: int, body: dict[str, Any]) -> AlwaysOnTask:
        """A PATCH: command, description, enabled; a new command restarts the program."""
        unknown = sorted(set(body) - {"command", "description", "enabled"})
        if unknown:
            raise TaskInvalid(f"unknown field{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}.")
        values: builtins.list[str] = []
        if "command" in body:
            values += ["command", command_field(body["command"])]
        if "description" in body:
            values += ["description", description_field(body["description"])]
        if "enabled" in body:
            values += ["enabled", "1" if flag_field("enabled", body["enabled"]) else "0"]
        if values:
            await self._change(owner, task_id, values)
        return await self.get(owner, task_id)

    async def request_restart(self, owner: str, task_id: int) -> AlwaysOnTask:
        """Counted, so that two restarts asked at once are both seen by the node that keeps it."""
        restarted = await self.redis.eval(_RESTART, 1, always_on_key(task_id), owner)
        if not restarted:
            raise AlwaysOnNotFound()
        await self.redis.publish(ALWAYS_ON_CHANNEL, str(task_id))
        return await self.get(owner, task_id)

    async def fit_account_type(self, owner: str, account_type: str) -> builtins.list[int]:
        """After a change of account type: disable the newest tasks beyond its limit (their records stay,
        to be enabled again after an upgrade); returns their ids."""
        limit = ALWAYS_ON_LIMITS.get(account_type, 0)
        enabled = [task for task in await self.list(owner) if task.enabled]
        over = [task.id for task in enabled[limit:]]
        for task_id in over:
            await self._change(owner, task_id, ["enabled", "0"])
        return over

    async def _change(self, owner: str, task_id: int, values: builtins.list[str]) -> None:
        changed = await self.redis.eval(
            _CHANGE, 1, always_on_key(task_id), owner, *values)
        if not changed:
            raise AlwaysOnNotFound()
        await self.redis.publish(ALWAYS_ON_CHANNEL, str(task_id))

    async def delete(self, owner: str, task_id: int) -> None:
        task = await self.get(owner, task_id)  # the node never changes: read once, remove in one call
        deleted = await self.redis.eval(
            _DELETE, 3, always_on_key(task_id), user_always_on_key(owner), node_always_on_key(task.node),
            owner, str(task_id))
        if not deleted:
            raise AlwaysOnNotFound()
        await self.redis.publish(ALWAYS_ON_CHANNEL, str(task_id))
