"""Share links for files, in Redis.

``ide:fileshare:<token>`` is a hash {owner, path}; ``ide:user:<name>:fileshares``
maps each shared path to its token, so one file has at most one link.  The
owner is the user whose home holds the file (a teacher sharing a student's
file makes a link of the student's).  A link names a path, not a file: it
shows whatever is at that path now, and 404s once nothing is.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass

import redis.asyncio as aioredis

TOKEN_BYTES = 24
"""192 random bits: a link cannot be guessed."""


def share_key(token: str) -> str:
    return f"ide:fileshare:{token}"


def user_shares_key(owner: str) -> str:
    return f"ide:user:{owner}:fileshares"


def share_url(owner: str, token: str) -> str:
    """The share page's path, as the API returns it."""
    return f"/user/{owner}/shares/{token}/"


@dataclass(frozen=True)
class FileShare:
    token: str
    owner: str
    path: str

    @property
    def url(self) -> str:
        return share_url(self.owner, self.token)


class FileShares:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    async def share(self, owner: str, path: str) -> tuple[FileShare, bool]:
        """The path's link, made now unless it existed; True when made now.

        Two racing requests agree on one token: the per-user hash is set with
        HSETNX and the loser withdraws its token.
        """
        token = secrets.token_urlsafe(TOKEN_BYTES)
        await self.redis.hset(share_key(token), mapping={"owner": owner, "path": path})
        if await self.redis.hsetnx(user_shares_key(owner), path, token):
            return FileShare(token, owner, path), True
        await self.redis.delete(share_key(token))
        existing = await self.find(owner, path)
        if existing is None:
            # Unshared between our two steps: try once more from the start.
            return await self.share(owner, path)
        return existing, False

    async def find(self, owner: str, path: str) -> FileShare | None:
        token = await self.redis.hget(user_shares_key(owner), path)
        return FileShare(str(token), owner, path) if token else None

    async def lookup(self, token: str) -> FileShare | None:
        """The share a link's token names, or None (also for malformed tokens)."""
        if not token or len(token) > 128:
            return None
        fields = await self.redis.hgetall(share_key(token))
        owner, path = fields.get("owner"), fields.get("path")
        if not owner or not path:
            return None
        return FileShare(token, str(owner), str(path))

    async def unshare(self, owner: str, path: str) -> bool:
        """Stop sharing ``path``; False when it was not shared."""
        token = await self.redis.hget(user_shares_key(owner), path)
        if not token:
            return False
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(user_shares_key(owner), path)
            pipe.delete(share_key(str(token)))
            await pipe.execute()
        return True

    async def forget_under(self, owner: str, path: str) -> None:
        """Drop the links of ``path`` and of everything below it (it was deleted or moved)."""
        shared = {str(p): str(t) for p, t in (await self.redis.hgetall(user_shares_key(owner))).items()}
        gone = {p: t for p, t in shared.items() if p == path or p.startswith(path.rstrip("/") + "/")}
        if not gone:
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(user_shares_key(owner), *gone)
            pipe.delete(*(share_key(token) for token in gone.values()))
            await pipe.execute()
