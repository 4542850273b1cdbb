"""Share links for files, in Redis.

``ide:fileshare:<token>`` is a hash {owner, path, creator};
``ide:user:<name>:fileshares`` maps each shared path to its token, so one
file has at most one link.  The owner is the user whose home holds the file;
the creator is who made the link: the owner, or their teacher working in
the student's home (links from before creators were recorded count as the
owner's).  A teacher's links end with the teacher's access
(:meth:`FileShares.forget_made_by`), and the owner adopts a link by sharing
the file themselves.  A link names a path, not a file: it shows whatever is
at that path now, and 404s once nothing is.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass

import redis.asyncio as aioredis

from consoles.keys import file_share_key, user_file_shares_key

TOKEN_BYTES = 24
"""192 random bits: a link cannot be guessed."""


# Delete the links in one home (KEYS[1]) made by ARGV[3]; ARGV[1] .. token .. ARGV[2] is a link's key.
_FORGET_MADE_BY = """
local gone = 0
local links = redis.call('HGETALL', KEYS[1])
for i = 1, #links, 2 do
  local key = ARGV[1] .. links[i + 1] .. ARGV[2]
  if redis.call('HGET', key, 'creator') == ARGV[3] then
    redis.call('HDEL', KEYS[1], links[i])
    redis.call('DEL', key)
    gone = gone + 1
  end
end
return gone
"""


def share_url(owner: str, token: str) -> str:
    """The share page's path, as the API returns it."""
    return f"/user/{owner}/shares/{token}/"


@dataclass(frozen=True)
class FileShare:
    token: str
    owner: str
    path: str
    creator: str

    @property
    def url(self) -> str:
        return share_url(self.owner, self.token)


class FileShares:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self._forget_made_by = redis.register_script(_FORGET_MADE_BY)

    async def share(self, owner: str, path: str, creator: str) -> tuple[FileShare, bool]:
        """The path's link, made now by ``creator`` unless it existed; True when made now.

        Two racing requests agree on one token: the per-user hash is set with
        HSETNX and the loser withdraws its token.  The owner asking for a link
        their teacher made takes it over, so it outlives the class.
        """
        token = secrets.token_urlsafe(TOKEN_BYTES)
        await self.redis.hset(file_share_key(token), mapping={"owner": owner, "path": path, "creator": creator})
        if await self.redis.hsetnx(user_file_shares_key(owner), path, token):
            return FileShare(token, owner, path, creator), True
        await self.redis.delete(file_share_key(token))
        existing = await self.find(owner, path)
        if existing is None:
            # Unshared between our two steps: try once more from the start.
            return await self.share(owner, path, creator)
        if creator == owner and existing.creator != owner:
            await self.redis.hset(file_share_key(existing.token), "creator", owner)
            existing = FileShare(existing.token, owner, path, owner)
        return existing, False

    async def find(self, owner: str, path: str) -> FileShare | None:
        token = await self.redis.hget(user_file_shares_key(owner), path)
        return await self.lookup(str(token)) if token else None

    async def of_home(self, owner: str) -> list[FileShare]:
        """Every link to a file in ``owner``'s home, whoever made it, by path."""
        tokens = {str(p): str(t) for p, t in (await self.redis.hgetall(user_file_shares_key(owner))).items()}
        async with self.redis.pipeline(transaction=False) as pipe:
            for token in tokens.values():
                pipe.hget(file_share_key(token), "creator")
            creators = await pipe.execute()
        return [FileShare(token, owner, path, str(creator or owner))
                for (path, token), creator in sorted(zip(tokens.items(), creators, strict=True))]

    async def forget_made_by(self, owner: str, creator: str) -> int:
        """Delete the links to ``owner``'s files that ``creator`` made; how many there were."""
        prefix, suffix = file_share_key("\n").split("\n")
        return int(await self._forget_made_by(keys=[user_file_shares_key(owner)], args=[prefix, suffix, creator]))

    async def lookup(self, token: str) -> FileShare | None:
        """The share a link's token names, or None (also for malformed tokens)."""
        if not token or len(token) > 128:
            return None
        fields = await self.redis.hgetall(file_share_key(token))
        owner, path = fields.get("owner"), fields.get("path")
        if not owner or not path:
            return None
        return FileShare(token, str(owner), str(path), str(fields.get("creator") or owner))

    async def unshare(self, owner: str, path: str) -> bool:
        """Stop sharing ``path``; False when it was not shared."""
        token = await self.redis.hget(user_file_shares_key(owner), path)
        if not token:
            return False
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(user_file_shares_key(owner), path)
            pipe.delete(file_share_key(str(token)))
            await pipe.execute()
        return True

    async def forget_under(self, owner: str, path: str) -> None:
        """Drop the links of ``path`` and of everything below it (it was deleted or moved)."""
        shared = {str(p): str(t) for p, t in (await self.redis.hgetall(user_file_shares_key(owner))).items()}
        gone = {p: t for p, t in shared.items() if p == path or p.startswith(path.rstrip("/") + "/")}
        if not gone:
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(user_file_shares_key(owner), *gone)
            pipe.delete(*(file_share_key(token) for token in gone.values()))
            await pipe.execute()
