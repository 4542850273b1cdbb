"""Login sessions: the signed cookie carries a random id that maps to a user.

Keeping sessions server-side lets logout and a password change end them
everywhere, which a self-contained signed cookie could not.
"""
from __future__ import annotations

import secrets
from typing import cast

import redis.asyncio as aioredis

from consoles.keys import session_key, user_sessions_key

SESSION_SECONDS = 30 * 24 * 3600


class SessionStore:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    async def create(self, username: str) -> str:
        session_id = secrets.token_urlsafe(24)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(session_key(session_id), username, ex=SESSION_SECONDS)
            pipe.sadd(user_sessions_key(username), session_id)
            await pipe.execute()
        return session_id

    async def lookup(self, session_id: str) -> str | None:
        if not session_id or len(session_id) > 100:
            return None
        return cast(str | None, await self.redis.get(session_key(session_id)))

    async def end(self, session_id: str) -> str | None:
        """End one session; returns whose it was (None: it had already ended)."""
        username = await self.lookup(session_id)
        if username:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.delete(session_key(session_id))
                pipe.srem(user_sessions_key(username), session_id)
                await pipe.execute()
        return username

    async def end_all(self, username: str, keep: str | None = None) -> int:
        """End every session of a user but ``keep`` (after a password change); returns how many."""
        ids = cast(set[str], await self.redis.smembers(user_sessions_key(username)))
        doomed = [sid for sid in ids if sid != keep]
        if doomed:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.delete(*(session_key(sid) for sid in doomed))
                pipe.srem(user_sessions_key(username), *doomed)
                await pipe.execute()
        return len(doomed)
