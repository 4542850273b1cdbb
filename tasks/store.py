"""Scheduled tasks kept in Redis: one hash per task, a set per user, and the due-time index.

The due index (``ide:tasks:due``, task id scored by its next due time)
holds exactly the enabled tasks, so a scheduler only ever looks at its
first entry; every change here keeps it true in the same Lua call as the
task itself, and publishes on ``ide:tasks`` so sleeping schedulers look
again.
"""
from __future__ import annotations

import builtins
import time
from dataclasses import dataclass
from typing import cast

import redis.asyncio as aioredis

from consoles.keys import TASK_IDS, TASKS_CHANNEL, TASKS_DUE, task_key, user_tasks_key
from tasks.fields import TaskFields
from tasks.timing import TaskInvalid, Timing

EXPIRY_SECONDS = 30 * 86400
"""A free account's task runs for a month after its creation or last extension."""

# KEYS: user's tasks, id counter, due; ARGV: limit, key prefix, next due or '', field/value pairs...
_CREATE = """
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[1]) then return -1 end
local id = redis.call('INCR', KEYS[2])
redis.call('HSET', ARGV[2] .. id, unpack(ARGV, 4))
redis.call('SADD', KEYS[1], id)
if ARGV[3] ~= '' then redis.call('ZADD', KEYS[3], ARGV[3], id) end
return id
"""

# KEYS: task, due; ARGV: owner, id, next due or '', field/value pairs...
_REPLACE = """
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
if ARGV[3] == '' then redis.call('ZREM', KEYS[2], ARGV[2]) else redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2]) end
return 1
"""

# KEYS: task; ARGV: owner
_STOP = """
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
return redis.call('HINCRBY', KEYS[1], 'stop_requests', 1)
"""

_DELETE = """
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[2])
return 1
"""

TASK_LIMITS = {"anon": 0, "free": 1, "hacker": 20, "web_developer": 50}


class TaskNotFound(LookupError):
    """No task by that id is the caller's: the same answer whether it exists or not."""

    def __init__(self) -> None:
        super().__init__("No such scheduled task.")


class TaskLimitReached(TaskInvalid):
    """The account has as many tasks as its type allows."""


@dataclass(frozen=True)
class LastRun:
    """The most recent run: when it started, how it ended (None while it runs), and how long it took."""

    started: float
    outcome: str  # "running", "finished", "skipped", "missed", "expired"
    exit_status: int | None
    duration: float | None


@dataclass(frozen=True)
class ScheduledTask:
    id: int
    owner: str
    fields: TaskFields
    created: float
    expiry: float | None
    next_due: float | None
    last_run: LastRun | None
    stop_requests: int = 0
    """How many times the owner asked to stop a run; a run ends when this grows while it runs."""

    def expired(self, now: float) -> bool:
        return self.expiry is not None and self.expiry <= now

    @classmethod
    def from_hash(cls, task_id: int, raw: dict[str, str], next_due: float | None) -> ScheduledTask:
        fields = TaskFields(command=raw["command"], description=raw.get("description", ""),
                            enabled=raw.get("enabled") == "1",
                            timing=Timing(raw["interval"], int(raw["minute"]),
                                          int(raw["hour"]) if raw.get("hour") else None))
        last = None
        if raw.get("last_started"):
            last = LastRun(started=float(raw["last_started"]), outcome=raw.get("last_outcome", ""),
                           exit_status=int(raw["last_exit_status"]) if raw.get("last_exit_status") else None,
                           duration=float(raw["last_duration"]) if raw.get("last_duration") else None)
        return cls(id=task_id, owner=raw["owner"], fields=fields, created=float(raw["created"]),
                   expiry=float(raw["expiry"]) if raw.get("expiry") else None, next_due=next_due,
                   last_run=last, stop_requests=int(raw.get("stop_requests") or 0))


def _field_values(fields: TaskFields) -> list[str]:
    timing = fields.timing
    return ["command", fields.command, "description", fields.description,
            "enabled", "1" if fields.enabled else "0", "interval", timing.interval,
            "hour", "" if timing.hour is None else str(timing.hour), "minute", str(timing.minute)]


class TaskStore:
    """Users' scheduled tasks; every method checks the task is the caller's."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    async def create(self, owner: str, account_type: str, fields: TaskFields,
                     now: float | None = None) -> ScheduledTask:
        now = time.time() if now is None else now
        limit = TASK_LIMITS.get(account_type, 0)
        expiry = now + EXPIRY_SECONDS if account_type in ("free", "anon") else None
        next_due = fields.timing.next_run(now) if fields.enabled else None
        values = [*_field_values(fields), "owner", owner, "created", repr(now),
                  "expiry", "" if expiry is None else repr(expiry)]
        task_id = int(await self.redis.eval(
            _CREATE, 3, user_tasks_key(owner), TASK_IDS, TASKS_DUE,
            limit, task_key(""), "" if next_due is None else repr(next_due), *values))
        if task_id < 0:
            raise TaskLimitReached(self._limit_message(account_type, limit))
        await self.redis.publish(TASKS_CHANNEL, str(task_id))
        return ScheduledTask(id=task_id, owner=owner, fields=fields, created=now, expiry=expiry,
                             next_due=next_due, last_run=None)

    @staticmethod
    def _limit_message(account_type: str, limit: int) -> str:
        if limit == 0:
            return f"A {account_type} account cannot have scheduled tasks; upgrade to schedule one."
        return (f"A {account_type} account can have {limit} scheduled task{'s' if limit > 1 else ''}; "
                "delete one or upgrade to add another.")

    async def get(self, owner: str, task_id: int) -> ScheduledTask:
        raw = cast(dict[str, str], await self.redis.hgetall(task_key(task_id)))
        if raw.get("owner") != owner:
            raise TaskNotFound()
        return ScheduledTask.from_hash(task_id, raw, await self.redis.zscore(TASKS_DUE, str(task_id)))

    async def find(self, task_id: int) -> ScheduledTask:
        """Any user's task, for the scheduler (never for a request: use :meth:`get`)."""
        raw = cast(dict[str, str], await self.redis.hgetall(task_key(task_id)))
        if "owner" not in raw:
            raise TaskNotFound()
        return ScheduledTask.from_hash(task_id, raw, await self.redis.zscore(TASKS_DUE, str(task_id)))

    async def list(self, owner: str) -> list[ScheduledTask]:
        ids = sorted(int(i) for i in await self.redis.smembers(user_tasks_key(owner)))
        found = []
        for task_id in ids:
            try:
                found.append(await self.get(owner, task_id))
            except TaskNotFound:
                continue  # deleted between the two reads
        return found

    async def update(self, owner: str, task_id: int, fields: TaskFields,
                     now: float | None = None) -> ScheduledTask:
        """Replace the task's fields; an expired task cannot be enabled until it is extended."""
        now = time.time() if now is None else now
        current = await self.get(owner, task_id)
        if fields.enabled and not current.fields.enabled and current.expired(now):
            raise TaskInvalid("This task has expired; extend it before enabling it again.")
        return await self._replace(current, fields, current.expiry, now)

    async def extend(self, owner: str, task_id: int, now: float | None = None) -> ScheduledTask:
        """Another month for a free account's task; one disabled by its expiry runs again."""
        now = time.time() if now is None else now
        current = await self.get(owner, task_id)
        if current.expiry is None:
            return current
        fields = current.fields
        raw_reason = await self.redis.hget(task_key(task_id), "disabled_by")
        if raw_reason == "expiry":
            fields = TaskFields(fields.command, fields.description, True, fields.timing)
        return await self._replace(current, fields, now + EXPIRY_SECONDS, now)

    async def _replace(self, current: ScheduledTask, fields: TaskFields, expiry: float | None,
                       now: float) -> ScheduledTask:
        next_due = fields.timing.next_run(now) if fields.enabled else None
        values = [*_field_values(fields), "expiry", "" if expiry is None else repr(expiry),
                  "disabled_by", ""]
        replaced = await self.redis.eval(
            _REPLACE, 2, task_key(current.id), TASKS_DUE, current.owner, str(current.id),
            "" if next_due is None else repr(next_due), *values)
        if not replaced:
            raise TaskNotFound()
        await self.redis.publish(TASKS_CHANNEL, str(current.id))
        return ScheduledTask(id=current.id, owner=current.owner, fields=fields, created=current.created,
                             expiry=expiry, next_due=next_due, last_run=current.last_run)

    async def request_stop(self, owner: str, task_id: int) -> ScheduledTask:
        """Ask the node running the task's current run to end it (counted, like a restart request)."""
        if not await self.redis.eval(_STOP, 1, task_key(task_id), owner):
            raise TaskNotFound()
        await self.redis.publish(TASKS_CHANNEL, str(task_id))
        return await self.get(owner, task_id)

    async def fit_account_type(self, owner: str, account_type: str,
                               now: float | None = None) -> builtins.list[int]:
        """After a change of account type: the newest enabled tasks beyond its limit are disabled (kept, to
        be enabled again after an upgrade); a free account's tasks get an expiry, a paying one's lose it.
        Returns the ids disabled."""
        now = time.time() if now is None else now
        free = account_type in ("free", "anon")
        disabled = []
        enabled_seen = 0
        for task in await self.list(owner):
            fields, expiry = task.fields, task.expiry
            if fields.enabled:
                enabled_seen += 1
                if enabled_seen > TASK_LIMITS.get(account_type, 0):
                    fields = TaskFields(fields.command, fields.description, False, fields.timing)
                    disabled.append(task.id)
            if free and expiry is None:
                expiry = now + EXPIRY_SECONDS
            elif not free:
                expiry = None
            if (fields, expiry) != (task.fields, task.expiry):
                await self._replace(task, fields, expiry, now)
        return disabled

    async def delete(self, owner: str, task_id: int) -> None:
        deleted = await self.redis.eval(
            _DELETE, 3, task_key(task_id), user_tasks_key(owner), TASKS_DUE, owner, str(task_id))
        if not deleted:
            raise TaskNotFound()
        await self.redis.publish(TASKS_CHANNEL, str(task_id))
