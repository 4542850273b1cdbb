"""The Redis side of running a scheduled task: claiming a due run, holding it, ending it.

A claim is one Lua call, so when every node wakes for the same minute
exactly one of them gets each run.  The task's due score moves on in the
same call, which is why a node that dies mid-run never causes a second run:
the minute is already spent.  A run in progress is a lease (a key with a
time to live that its node renews), so a dead node's run stops counting as
"still going" within a minute and the next one is not skipped for ever.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import redis.asyncio as aioredis

from consoles.keys import TASKS_DUE, task_key, task_running_key

LEASE_SECONDS = 60
"""How long a run counts as going without its node renewing the lease."""
LATE_LIMIT = 120.0
"""A run claimed later than this after its minute was missed (every node was down): not made up."""

# KEYS: due, task, lease; ARGV: id, now, late limit, node, lease seconds
_CLAIM = """
local due = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not due then return false end
due = tonumber(due)
local now = tonumber(ARGV[2])
if due > now then return false end
local interval = redis.call('HGET', KEYS[2], 'interval')
if not interval then redis.call('ZREM', KEYS[1], ARGV[1]) return false end
local step = 86400
if interval == 'hourly' then step = 3600 end
local following = due + step
while following <= now do following = following + step end
local expiry = redis.call('HGET', KEYS[2], 'expiry')
if expiry and expiry ~= '' and tonumber(expiry) <= due then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HSET', KEYS[2], 'enabled', '0', 'disabled_by', 'expiry')
  return {'expired', tostring(due)}
end
redis.call('ZADD', KEYS[1], following, ARGV[1])
if now - due > tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[2], 'last_started', tostring(due), 'last_outcome', 'missed',
             'last_exit_status', '', 'last_duration', '')
  return {'missed', tostring(due)}
end
if redis.call('EXISTS', KEYS[3]) == 1 then return {'skipped', tostring(due)} end
redis.call('SET', KEYS[3], ARGV[4], 'EX', ARGV[5])
redis.call('HSET', KEYS[2], 'last_started', ARGV[2], 'last_outcome', 'running',
           'last_exit_status', '', 'last_duration', '')
return {'run', tostring(due)}
"""

# KEYS: lease; ARGV: node, seconds
_RENEW = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('EXPIRE', KEYS[1], ARGV[2])
"""

# KEYS: task, lease; ARGV: node, exit status, duration
_FINISH = """
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'last_outcome', 'finished', 'last_exit_status', ARGV[2], 'last_duration', ARGV[3])
end
return 1
"""


@dataclass(frozen=True)
class Claim:
    """What this node is to do about a due minute: "run", "skipped", "missed" or "expired"."""

    task_id: int
    decision: str
    due: float


class RunClaims:
    """One node's claims on due runs."""

    def __init__(self, redis: aioredis.Redis, node: str) -> None:
        self.redis = redis
        self.node = node

    async def due_now(self, now: float, batch: int = 200) -> list[int]:
        """Ids of tasks whose minute has come, earliest first."""
        ids = cast(list[str], await self.redis.zrangebyscore(TASKS_DUE, "-inf", repr(now), start=0, num=batch))
        return [int(i) for i in ids]

    async def next_due(self) -> float | None:
        first = cast(list[tuple[str, float]], await self.redis.zrange(TASKS_DUE, 0, 0, withscores=True))
        return first[0][1] if first else None

    async def claim(self, task_id: int, now: float) -> Claim | None:
        answer = await self.redis.eval(
            _CLAIM, 3, TASKS_DUE, task_key(task_id), task_running_key(task_id),
            str(task_id), repr(now), repr(LATE_LIMIT), self.node, LEASE_SECONDS)
        if not answer:
            return None  # another node took it, or it changed meanwhile
        decision, due = answer
        return Claim(task_id=task_id, decision=decision, due=float(due))

    async def renew(self, task_id: int) -> bool:
        """Keep this node's run counted as going; False once the lease is no longer ours."""
        return bool(await self.redis.eval(
            _RENEW, 1, task_running_key(task_id), self.node, LEASE_SECONDS))

    async def finish(self, task_id: int, exit_status: int, duration: float) -> None:
        await self.redis.eval(
            _FINISH, 2, task_key(task_id), task_running_key(task_id), self.node, str(exit_status),
            f"{duration:.3f}")
