"""Who else may use a console (kept in Redis), and the changes of access every node applies.

Keys (``consoles/keys.py``, docs/architecture.md):

* ``ide:console:<id>:shares`` — hash, username → ``ro`` or ``rw``.  The
  field ``@broadcast`` (usernames never start with ``@``) marks a console
  shared read-only with its owner's audience; who that is (a teacher's
  students) is the web layer's business, not this package's.
* ``ide:user:<name>:shared_with_me`` — set of the console ids shared with
  that user by name.

An :class:`AccessChange` says whose access to which consoles must be asked
again; it travels to every node on the ``ide:control`` channel, where
``consoles.access_control.AccessControl`` applies it to the consoles that
node runs.
"""
from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any, Protocol, cast

import redis.asyncio as aioredis

from consoles.keys import CONTROL_CHANNEL, console_key, console_shares_key, shared_with_me_key
from consoles.signing import NodeKey

READ_ONLY = "ro"
READ_WRITE = "rw"
MODES = (READ_ONLY, READ_WRITE)
BROADCAST_FIELD = "@broadcast"


class ShareModeInvalid(ValueError):
    """A share mode other than ``ro`` or ``rw``."""

    def __init__(self, mode: object) -> None:
        super().__init__(f'the mode must be "ro" (watch only) or "rw" (can type), not {json.dumps(mode)}')


class ConsoleGone(LookupError):
    """The console was closed while it was being shared."""

    def __init__(self) -> None:
        super().__init__("This console no longer exists.")


# Share only a console that still exists; answer the previous mode ('' if none).
_SHARE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local previous = redis.call('HGET', KEYS[2], ARGV[1]) or ''
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[3])
return previous
"""

# Forget a closed console's shares, and the console in each sharee's set.
_FORGET = """
for _, name in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(name, 1, 1) ~= '@' then
    redis.call('SREM', ARGV[1] .. name .. ARGV[2], ARGV[3])
  end
end
return redis.call('DEL', KEYS[1])
"""


class ShareStore:
    """The Redis side of sharing: grants by name, the broadcast mark, and their indexes."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis
        self._share = redis.register_script(_SHARE)
        self._forget = redis.register_script(_FORGET)

    async def share(self, console_id: str, username: str, mode: str) -> str | None:
        """Grant ``username`` ``mode`` on a console; returns the mode it had before (None: new).

        Raises :class:`ShareModeInvalid` or :class:`ConsoleGone`.
        """
        if mode not in MODES:
            raise ShareModeInvalid(mode)
        previous = await self._share(
            keys=[console_key(console_id), console_shares_key(console_id), shared_with_me_key(username)],
            args=[username, mode, console_id])
        if previous is None:
            raise ConsoleGone()
        return cast(str, previous) or None

    async def revoke(self, console_id: str, username: str) -> bool:
        """Withdraw ``username``'s share; False when there was none."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hdel(console_shares_key(console_id), username)
            pipe.srem(shared_with_me_key(username), console_id)
            removed, _ = await pipe.execute()
        return bool(removed)

    async def shares(self, console_id: str) -> dict[str, str]:
        """Username → mode of every share by name, in name order (the broadcast is not one)."""
        fields = cast(dict[str, str], await self._redis.hgetall(console_shares_key(console_id)))
        return {name: fields[name] for name in sorted(fields) if name != BROADCAST_FIELD}

    async def mode_and_broadcast(self, console_id: str, username: str) -> tuple[str | None, bool]:
        """``username``'s share mode (None: not shared by name) and whether the console is broadcast.

        One round trip: every attach asks this.
        """
        mode, broadcast = await self._redis.hmget(console_shares_key(console_id), [username, BROADCAST_FIELD])
        return (mode if mode in MODES else None), broadcast is not None

    async def start_broadcast(self, console_id: str) -> bool:
        """Mark the console shared with its owner's audience; False if it already was."""
        if not await self._redis.exists(console_key(console_id)):
            raise ConsoleGone()
        return bool(await self._redis.hsetnx(console_shares_key(console_id), BROADCAST_FIELD, READ_ONLY))

    async def end_broadcast(self, console_id: str) -> bool:
        """Remove the broadcast mark; False when there was none."""
        return bool(await self._redis.hdel(console_shares_key(console_id), BROADCAST_FIELD))

    async def is_broadcast(self, console_id: str) -> bool:
        return bool(await self._redis.hexists(console_shares_key(console_id), BROADCAST_FIELD))

    async def broadcasts_among(self, console_ids: Iterable[str]) -> list[str]:
        """Those of ``console_ids`` that are broadcast now, in the order given."""
        ids = list(console_ids)
        async with self._redis.pipeline(transaction=False) as pipe:
            for console_id in ids:
                pipe.hexists(console_shares_key(console_id), BROADCAST_FIELD)
            flags = await pipe.execute()
        return [console_id for console_id, flag in zip(ids, flags, strict=True) if flag]

    async def shared_with(self, username: str) -> set[str]:
        """Ids of the consoles shared with ``username`` by name (closed ones may linger: see forget)."""
        return cast(set[str], await self._redis.smembers(shared_with_me_key(username)))

    async def drop_from_shared_with(self, username: str, console_ids: Iterable[str]) -> None:
        """Forget ids in ``username``'s set whose consoles are gone."""
        ids = list(console_ids)
        if ids:
            await self._redis.srem(shared_with_me_key(username), *ids)

    async def forget_console(self, console_id: str) -> None:
        """A console was closed: delete its shares and take it out of every sharee's set."""
        prefix, suffix = shared_with_me_key("\n").split("\n")
        await self._forget(keys=[console_shares_key(console_id)], args=[prefix, suffix, console_id])


@dataclass(frozen=True)
class AccessChange:
    """Access to some consoles changed: who is still allowed on them, and how, must be asked again.

    ``console_id`` names one console, or ``owner`` means all of that user's
    consoles, or neither: every console on which ``username`` has a
    connection (their credentials changed: logout, new password, revoked
    token).  ``username`` limits the check to that person's connections
    (None: everybody's but the owner's).  Those who lost access are
    disconnected with ``reason``.
    """

    reason: str
    console_id: str | None = None
    owner: str | None = None
    username: str | None = None

    def __post_init__(self) -> None:
        if self.console_id is not None and self.owner is not None:
            raise ValueError("an access change names one console or one owner, not both")
        if self.console_id is None and self.owner is None and self.username is None:
            raise ValueError("an access change names a console, an owner or a user")

    def to_json(self, node: str) -> str:
        return json.dumps({"type": "access", "node": node, **asdict(self)})

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> AccessChange:
        return cls(reason=str(message["reason"]), console_id=message.get("console_id"),
                   owner=message.get("owner"), username=message.get("username"))


@dataclass(frozen=True)
class AccountTypeChange:
    """A user's account type changed: every node gives the programs the user runs
    there what the new type allows (their network egress) at once."""

    username: str
    account_type: str

    def to_json(self, node: str) -> str:
        return json.dumps({"type": "account_type", "node": node, **asdict(self)})

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> AccountTypeChange:
        return cls(username=str(message["username"]), account_type=str(message["account_type"]))


class ControlMessage(Protocol):
    """What travels to every node on the control channel."""

    def to_json(self, node: str) -> str: ...


Recheck = Callable[[AccessChange], Awaitable[object]]
"""Makes every node ask again about the connections an access change concerns
(:meth:`AccessControl.publish` on a node, :func:`announce` elsewhere)."""

async def announce(redis: aioredis.Redis, change: ControlMessage, sender: str, key: NodeKey) -> None:
    """Tell every node about ``change``, sealed with the deployment's ``key`` (a process
    without consoles, such as the CLI, calls only this; a node applies its own access
    changes at once, see :meth:`AccessControl.publish`)."""
    await redis.publish(CONTROL_CHANNEL, key.seal(CONTROL_CHANNEL, change.to_json(sender)))
