"""Web apps and their static file mappings in Redis.

``webapp:<domain>`` holds one app; ``user:<name>:webapps`` and the global
``webapps`` set list the domains.  Creation is one Lua script, so a domain
is never given twice and a user never passes their limit, whatever the
races between nodes.  Every change of an app's record or mappings is
published on ``webapp-changes`` in the same transaction as the write, so
that every node's front forgets what it kept of the app (``routes.py``).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, replace
from typing import cast

import redis.asyncio as aioredis
from redis.typing import EncodableT, FieldT

from consoles.keys import (
    STATIC_NEXT_ID,
    WEBAPP_CHANGES,
    WEBAPP_NEXT_ID,
    WEBAPPS,
    user_webapps_key,
    webapp_key,
    webapp_static_key,
)
from ide.webapps.errors import StaticMappingNotFound, WebappInvalid, WebappNotFound

# KEYS: webapp, user's set, all domains, id counter; ARGV: limit, domain, then field/value pairs.
_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[1]) then return -2 end
local id = redis.call('INCR', KEYS[4])
redis.call('HSET', KEYS[1], 'id', id, unpack(ARGV, 3))
redis.call('SADD', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[2])
return id
"""


@dataclass(frozen=True)
class Webapp:
    id: int
    user: str
    domain_name: str
    python_version: str
    source_directory: str
    virtualenv_path: str
    enabled: bool
    force_https: bool
    password_protection_enabled: bool
    password_protection_username: str
    password_digest: str
    created: float
    command: str = ""
    """A website's command (API v1), listening on $DOMAIN_SOCKET; empty for a WSGI app."""

    @classmethod
    def from_hash(cls, domain: str, fields: dict[str, str]) -> Webapp:
        return cls(id=int(fields["id"]), user=fields["user"], domain_name=domain,
                   python_version=fields.get("python_version", ""),
                   source_directory=fields.get("source_directory", ""),
                   virtualenv_path=fields.get("virtualenv_path", ""),
                   enabled=fields.get("enabled", "1") == "1", force_https=fields.get("force_https") == "1",
                   password_protection_enabled=fields.get("password_protection_enabled") == "1",
                   password_protection_username=fields.get("password_protection_username", ""),
                   password_digest=fields.get("password_digest", ""), created=float(fields.get("created", 0)),
                   command=fields.get("command", ""))

    def to_hash(self) -> dict[str, str]:
        return {"user": self.user, "python_version": self.python_version,
                "source_directory": self.source_directory, "virtualenv_path": self.virtualenv_path,
                "enabled": _flag(self.enabled), "force_https": _flag(self.force_https),
                "password_protection_enabled": _flag(self.password_protection_enabled),
                "password_protection_username": self.password_protection_username,
                "password_digest": self.password_digest, "created": repr(self.created), "command": self.command}

    def password_matches(self, username: str, password: str) -> bool:
        """HTTP Basic credentials against the protection's, in constant time."""
        if not self.password_digest or ":" not in self.password_digest:
            return False
        salt, expected = self.password_digest.split(":", 1)
        return (hmac.compare_digest(username.encode(), self.password_protection_username.encode())
                & hmac.compare_digest(password_digest(password, salt), expected))


def _flag(value: bool) -> str:
    return "1" if value else "0"


def password_digest(password: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}:{password}".encode()).hexdigest()


def new_password_digest(password: str) -> str:
    """``salt:digest``; empty for no password.  A site password, checked on every request: fast."""
    if not password:
        return ""
    salt = secrets.token_hex(8)
    return f"{salt}:{password_digest(password, salt)}"


@dataclass(frozen=True)
class StaticMapping:
    id: int
    url: str
    path: str


class WebappStore:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self._create = redis.register_script(_CREATE)

    async def create(self, webapp: Webapp, limit: int) -> Webapp:
        fields = webapp.to_hash()
        result = int(await self._create(
            keys=[webapp_key(webapp.domain_name), user_webapps_key(webapp.user), WEBAPPS, WEBAPP_NEXT_ID],
            args=[limit, webapp.domain_name, *(item for pair in fields.items() for item in pair)]))
        if result == -1:
            raise WebappInvalid(f"domain with this domain name already exists: {webapp.domain_name}")
        if result == -2:
            raise WebappInvalid(f"You have reached your limit of {limit} web app{'s' if limit != 1 else ''} "
                                "for your account type.")
        return replace(webapp, id=result)

    async def get(self, domain: str) -> Webapp | None:
        fields = cast(dict[str, str], await self.redis.hgetall(webapp_key(domain)))
        return Webapp.from_hash(domain, fields) if fields and "id" in fields else None

    async def owned(self, user: str, domain: str) -> Webapp:
        """``user``'s web app at ``domain``; WebappNotFound for a missing one or someone else's."""
        webapp = await self.get(domain.lower())
        if webapp is None or webapp.user != user:
            raise WebappNotFound(f"You have no web app for {domain}.")
        return webapp

    async def of_user(self, user: str) -> list[Webapp]:
        domains = sorted(cast(set[str], await self.redis.smembers(user_webapps_key(user))))
        found = [await self.get(domain) for domain in domains]
        return [webapp for webapp in found if webapp is not None]

    async def all_domains(self) -> set[str]:
        return cast(set[str], await self.redis.smembers(WEBAPPS))

    async def save(self, webapp: Webapp) -> None:
        fields: dict[FieldT, EncodableT] = {key: value for key, value in webapp.to_hash().items()}
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(webapp_key(webapp.domain_name), mapping=fields)
            pipe.publish(WEBAPP_CHANGES, webapp.domain_name)
            await pipe.execute()

    async def disable_beyond(self, user: str, limit: int) -> list[str]:
        """Disable the user's newest enabled apps beyond ``limit`` (their records and files stay,
        to be enabled again after an upgrade); returns their domains."""
        enabled = sorted((app for app in await self.of_user(user) if app.enabled), key=lambda app: app.id)
        for webapp in enabled[limit:]:
            await self.save(replace(webapp, enabled=False))
        return [webapp.domain_name for webapp in enabled[limit:]]

    async def delete(self, webapp: Webapp) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(webapp_key(webapp.domain_name), webapp_static_key(webapp.domain_name))
            pipe.srem(user_webapps_key(webapp.user), webapp.domain_name)
            pipe.srem(WEBAPPS, webapp.domain_name)
            pipe.publish(WEBAPP_CHANGES, webapp.domain_name)
            await pipe.execute()

    # -- static file mappings ------------------------------------------------

    async def static_mappings(self, domain: str) -> list[StaticMapping]:
        raw = cast(dict[str, str], await self.redis.hgetall(webapp_static_key(domain)))
        mappings = [StaticMapping(int(key), **json.loads(value)) for key, value in raw.items()]
        return sorted(mappings, key=lambda mapping: mapping.id)

    async def static_mapping(self, domain: str, mapping_id: str) -> StaticMapping:
        raw = await self.redis.hget(webapp_static_key(domain), mapping_id) if mapping_id.isdigit() else None
        if raw is None:
            raise StaticMappingNotFound(f"No static file mapping {mapping_id} on {domain}.")
        return StaticMapping(int(mapping_id), **json.loads(raw))

    async def save_static_mapping(self, domain: str, url: str, path: str,
                                  mapping_id: int | None = None) -> StaticMapping:
        if mapping_id is None:
            mapping_id = int(await self.redis.incr(STATIC_NEXT_ID))
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(webapp_static_key(domain), str(mapping_id), json.dumps({"url": url, "path": path}))
            pipe.publish(WEBAPP_CHANGES, domain)
            await pipe.execute()
        return StaticMapping(mapping_id, url, path)

    async def delete_static_mapping(self, domain: str, mapping_id: int) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(webapp_static_key(domain), str(mapping_id))
            pipe.publish(WEBAPP_CHANGES, domain)
            await pipe.execute()
