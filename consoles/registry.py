"""Where consoles are recorded in Redis, so every node (and the web layer) can find them.

Keys (``consoles/keys.py``, docs/architecture.md): ``ide:console:<id>`` is a hash (owner, node, node_path,
argv as JSON, cwd, name, created, status, exit_status, ended_reason) and
``ide:user:<name>:consoles`` the set of a user's console ids.  ``node_path``
is the path under which the proxy in front reaches the node (empty on a
single node), so that a page streams the console from the node that runs it.
"""
from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aioredis

from consoles.keys import console_key, user_consoles_key

CONSOLE_ID_PATTERN = r"[0-9a-f]{16}"
"""What console ids look like (:func:`new_console_id`).  An id that arrives
from outside (a URL, a stream's ``?id=``) and does not match names no console:
it is refused before it can become part of a Redis key."""
_CONSOLE_ID = re.compile(CONSOLE_ID_PATTERN)

RUNNING = "running"
EXITED = "exited"
ENDED = "ended"


def new_console_id() -> str:
    """64 random bits, in hex: unguessable, and safe in keys and URLs."""
    return secrets.token_hex(8)


def is_console_id(value: str) -> bool:
    return _CONSOLE_ID.fullmatch(value) is not None


@dataclass(frozen=True)
class ConsoleRecord:
    """A console as registered: ``status`` is running, exited (with ``exit_status``) or ended."""

    id: str
    owner: str
    node: str
    argv: tuple[str, ...]
    cwd: str
    name: str
    created: float
    status: str
    exit_status: int | None
    ended_reason: str | None
    node_path: str = ""

    @classmethod
    def from_hash(cls, console_id: str, fields: Mapping[str, str]) -> ConsoleRecord:
        exit_status = fields.get("exit_status", "")
        return cls(id=console_id, owner=fields["owner"], node=fields.get("node", ""),
                   argv=tuple(json.loads(fields.get("argv", "[]"))), cwd=fields.get("cwd", ""),
                   name=fields.get("name", ""), created=float(fields.get("created", "0")),
                   status=fields.get("status", ENDED),
                   exit_status=int(exit_status) if exit_status else None,
                   ended_reason=fields.get("ended_reason") or None, node_path=fields.get("node_path", ""))

    def to_hash(self) -> dict[str, str]:
        return {"owner": self.owner, "node": self.node, "node_path": self.node_path,
                "argv": json.dumps(list(self.argv)),
                "cwd": self.cwd, "name": self.name, "created": repr(self.created),
                "status": self.status,
                "exit_status": "" if self.exit_status is None else str(self.exit_status),
                "ended_reason": self.ended_reason or ""}


# Counting and registering in one step, so two nodes starting consoles for
# the same user at once cannot both slip under the limit.  Ids whose hash
# is gone are dropped from the set on the way.
_RESERVE = """
local count = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local status = redis.call('HGET', ARGV[3] .. id, 'status')
  if not status then
    redis.call('SREM', KEYS[1], id)
  elseif status ~= 'ended' then
    count = count + 1
  end
end
if count >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[2], unpack(ARGV, 4))
redis.call('SADD', KEYS[1], ARGV[2])
return 1
"""

# An update must not bring back a console that was closed meanwhile.
_UPDATE_IF_PRESENT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""


class ConsoleRegistry:
    """The Redis side of consoles: registering, counting, listing, updating, forgetting."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis
        self._reserve = redis.register_script(_RESERVE)
        self._update = redis.register_script(_UPDATE_IF_PRESENT)

    async def reserve(self, record: ConsoleRecord, limit: int) -> bool:
        """Register ``record`` unless its owner already has ``limit`` consoles that are not ended."""
        flat = [item for pair in record.to_hash().items() for item in pair]
        done = await self._reserve(keys=[user_consoles_key(record.owner), console_key(record.id)],
                                   args=[limit, record.id, console_key(""), *flat])
        return bool(done)

    async def update(self, console_id: str, **fields: Any) -> bool:
        """Set fields of a console's hash if it is still registered."""
        flat = [item for name, value in fields.items() for item in (name, str(value))]
        return bool(await self._update(keys=[console_key(console_id)], args=flat))

    async def get(self, console_id: str) -> ConsoleRecord | None:
        fields = cast(dict[str, str], await self._redis.hgetall(console_key(console_id)))
        return ConsoleRecord.from_hash(console_id, fields) if fields else None

    async def list_for(self, username: str) -> list[ConsoleRecord]:
        ids = await self._redis.smembers(user_consoles_key(username))
        return await self.get_many(cast(set[str], ids))

    async def get_many(self, console_ids: Iterable[str]) -> list[ConsoleRecord]:
        """The records of those ids that still exist, oldest first."""
        ids = sorted(set(console_ids))
        async with self._redis.pipeline(transaction=False) as pipe:
            for console_id in ids:
                pipe.hgetall(console_key(console_id))
            hashes = cast(list[dict[str, str]], await pipe.execute())
        records = [ConsoleRecord.from_hash(console_id, fields)
                   for console_id, fields in zip(ids, hashes, strict=True) if fields]
        return sorted(records, key=lambda record: (record.created, record.id))

    async def forget(self, console_id: str, owner: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(console_key(console_id))
            pipe.srem(user_consoles_key(owner), console_id)
            await pipe.execute()

    async def on_node(self, node: str) -> list[ConsoleRecord]:
        """Every console registered to ``node`` (a scan: for start-up, not for requests)."""
        found: list[ConsoleRecord] = []
        async for key in self._redis.scan_iter(match=console_key("*"), count=500):
            assert isinstance(key, str)  # the client decodes responses
            console_id = key[len(console_key("")):]
            if ":" in console_id:
                continue  # a console's sub-key (its shares), not a console
            fields = cast(dict[str, str], await self._redis.hgetall(key))
            if fields.get("node") == node and "owner" in fields:
                found.append(ConsoleRecord.from_hash(console_id, fields))
        return found
