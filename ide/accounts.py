"""User accounts in Redis: names, account types, passwords, and the keys of classes.

Passwords are hashed with scrypt and a per-user salt; hashing runs in a
thread so a login never stalls the event loop.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from typing import cast

import redis.asyncio as aioredis
from redis.typing import EncodableT, FieldT

from consoles.keys import USERS, pending_key, user_key

ACCOUNT_TYPES = ("anon", "free", "hacker", "web_developer")
USERNAME_RULE = "1–30 characters of a-z, 0-9 and _, starting with a letter"
MIN_PASSWORD = 8
_USERNAME = re.compile(r"[a-z][a-z0-9_]{0,29}")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


class AccountError(Exception):
    """A request about accounts that cannot be done; the message says why."""


class UserNotFound(AccountError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no user named {name!r}")


class UserExists(AccountError):
    def __init__(self, name: str) -> None:
        super().__init__(f"the username {name!r} is taken")


def canonical_username(name: str) -> str:
    """The stored form of a username; raises AccountError if it can't be one."""
    lowered = name.strip().lower()
    if not _USERNAME.fullmatch(lowered):
        raise AccountError(f"invalid username {name!r}: use {USERNAME_RULE}")
    return lowered


def check_account_type(account_type: str) -> str:
    if account_type not in ACCOUNT_TYPES:
        raise AccountError(f"unknown account type {account_type!r}; "
                           f"choose one of {', '.join(ACCOUNT_TYPES)}")
    return account_type


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
    return password


def _hash_password(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)


@dataclass(frozen=True)
class User:
    """An account as stored; ``teacher`` is the teacher the user named, accepted or not
    (``ide.class_store.ClassStore.membership`` says which)."""

    name: str
    account_type: str
    created: float
    teacher: str | None
    default_python: str | None

    @classmethod
    def from_hash(cls, name: str, fields: dict[str, str]) -> User:
        return cls(name=name, account_type=fields.get("type", "free"),
                   created=float(fields.get("created", 0)),
                   teacher=fields.get("teacher") or None,
                   default_python=fields.get("default_python") or None)


class AccountStore:
    """Create, read and change accounts; the only code that knows their keys."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    async def get(self, name: str) -> User | None:
        try:
            name = canonical_username(name)
        except AccountError:
            return None
        fields = cast(dict[str, str], await self.redis.hgetall(user_key(name)))
        return User.from_hash(name, fields) if fields else None

    async def require(self, name: str) -> User:
        user = await self.get(name)
        if user is None:
            raise UserNotFound(name)
        return user

    async def all_users(self) -> list[User]:
        names = sorted(cast(set[str], await self.redis.smembers(USERS)))
        users = [await self.get(name) for name in names]
        return [user for user in users if user is not None]

    async def create(self, name: str, password: str, account_type: str = "free",
                     teacher: str | None = None) -> User:
        name = canonical_username(name)
        check_account_type(account_type)
        check_password(password)
        if teacher:
            teacher = (await self.require(teacher)).name
            if teacher == name:
                raise AccountError("a user cannot be their own teacher")
        salt = secrets.token_bytes(16)
        digest = await asyncio.to_thread(_hash_password, password, salt)
        fields: dict[FieldT, EncodableT] = {"type": account_type, "created": repr(time.time()),
                                            "salt": salt.hex(), "password": digest.hex()}
        # HSETNX on a marker field makes creation atomic against a racing twin.
        if not await self.redis.hsetnx(user_key(name), "name", name):
            raise UserExists(name)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(user_key(name), mapping=fields)
            pipe.sadd(USERS, name)
            if teacher:
                # Only a nomination: the teacher accepts it, or not (ide.classes).
                pipe.hset(user_key(name), "teacher", teacher)
                pipe.sadd(pending_key(teacher), name)
            await pipe.execute()
        return await self.require(name)

    async def verify_password(self, name: str, password: str) -> User | None:
        """The user if the password is right; compares in constant time."""
        user = await self.get(name)
        fields = await self.redis.hmget(user_key(user.name if user else "-"), "salt", "password")
        salt_hex, stored_hex = cast(list[str | None], fields)
        # Hash even for unknown users so timing does not reveal who exists.
        salt = bytes.fromhex(salt_hex) if salt_hex else b"\0" * 16
        digest = await asyncio.to_thread(_hash_password, password, salt)
        expected = bytes.fromhex(stored_hex) if stored_hex else b"\1" * 32
        if user is not None and hmac.compare_digest(digest, expected):
            return user
        return None

    async def set_password(self, name: str, password: str) -> None:
        user = await self.require(name)
        check_password(password)
        salt = secrets.token_bytes(16)
        digest = await asyncio.to_thread(_hash_password, password, salt)
        await self.redis.hset(user_key(user.name),
                              mapping={"salt": salt.hex(), "password": digest.hex()})

    async def set_type(self, name: str, account_type: str) -> None:
        """Record the account type; :class:`ide.account_types.AccountTypes` applies what follows."""
        user = await self.require(name)
        await self.redis.hset(user_key(user.name), "type", check_account_type(account_type))

    async def set_default_python(self, name: str, executable: str | None) -> None:
        user = await self.require(name)
        if executable:
            await self.redis.hset(user_key(user.name), "default_python", executable)
        else:
            await self.redis.hdel(user_key(user.name), "default_python")
