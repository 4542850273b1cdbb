"""API tokens: 160 random bits, shown once, stored only as a SHA-256 digest.

A leaked Redis dump therefore yields no usable token.  One token per user,
as on PythonAnywhere: creating a new one revokes the old.
"""
from __future__ import annotations

import hashlib
import secrets
from typing import cast

import redis.asyncio as aioredis

from consoles.keys import token_key, user_key


class TokenStore:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    async def create(self, username: str) -> str:
        """A new token for ``username``; any previous one stops working."""
        await self.revoke(username)
        token = secrets.token_hex(20)
        key = token_key(self.digest(token))
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(key, username)
            pipe.hset(user_key(username), "token_key", key)
            await pipe.execute()
        return token

    async def revoke(self, username: str) -> bool:
        key = await self.redis.hget(user_key(username), "token_key")
        if not key:
            return False
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hdel(user_key(username), "token_key")
            await pipe.execute()
        return True

    async def has_token(self, username: str) -> bool:
        return bool(await self.redis.hexists(user_key(username), "token_key"))

    @staticmethod
    def digest(token: str) -> str:
        """What a token is stored and remembered as (a credential that cannot be used)."""
        return hashlib.sha256(token.encode()).hexdigest()

    async def owner(self, digest: str) -> str | None:
        """The user whose token has this digest, or None."""
        if len(digest) != 64:
            return None
        return cast(str | None, await self.redis.get(token_key(digest)))

    async def lookup(self, token: str) -> str | None:
        """The user a token belongs to, or None."""
        if not token or len(token) > 200:
            return None
        return await self.owner(self.digest(token))
