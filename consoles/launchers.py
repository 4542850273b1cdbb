"""Custom launchers: a user's own start buttons ("run my bot in ~/bot"), kept in Redis.

Stored in the hash ``ide:user:<name>:launchers`` as id → JSON
``{"id", "name", "command", "working_directory"}``.  The command is split
with shell quoting rules into the argv a console runs (no shell is involved
unless the command names one).
"""
from __future__ import annotations

import builtins
import json
import secrets
import shlex
from dataclasses import asdict, dataclass

import redis.asyncio as aioredis

from consoles.keys import launchers_key

MAX_NAME = 60
MAX_COMMAND = 1000
MAX_DIRECTORY = 1000
MAX_LAUNCHERS = 50

# A replacement must not bring back a launcher deleted meanwhile.
_REPLACE_IF_PRESENT = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""


class LauncherInvalid(ValueError):
    """A launcher was refused; the message says what to fix."""


class LauncherNotFound(LookupError):
    """A launcher id the user has none by: the same answer (404) wherever it is named."""

    def __init__(self) -> None:
        super().__init__("No such launcher.")


@dataclass(frozen=True)
class Launcher:
    id: str
    name: str
    command: str
    working_directory: str

    @property
    def argv(self) -> list[str]:
        return shlex.split(self.command)

    def to_json(self) -> dict[str, str]:
        return asdict(self)


def _has_control_characters(text: str) -> bool:
    return any(ord(char) < 32 or ord(char) == 127 for char in text)


def validate(name: str, command: str, working_directory: str) -> tuple[str, str, str]:
    """The cleaned-up fields, or :class:`LauncherInvalid` saying what is wrong."""
    name = name.strip()
    if not 1 <= len(name) <= MAX_NAME:
        raise LauncherInvalid(f"The name must be 1 to {MAX_NAME} characters long.")
    if _has_control_characters(name):
        raise LauncherInvalid("The name cannot contain control characters.")
    command = command.strip()
    if not command:
        raise LauncherInvalid("The command is empty: give the program to run, e.g. python3 bot.py")
    if len(command) > MAX_COMMAND:
        raise LauncherInvalid(f"The command is {len(command)} characters long; the limit is {MAX_COMMAND}.")
    if "\x00" in command:
        raise LauncherInvalid("The command cannot contain NUL characters.")
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise LauncherInvalid(f"The command cannot be split into arguments ({exc}): "
                              f"check that every quote is closed.") from None
    if not argv or not argv[0]:
        raise LauncherInvalid("The command is empty: give the program to run, e.g. python3 bot.py")
    working_directory = working_directory.strip()
    if not working_directory.startswith("/"):
        raise LauncherInvalid("The working directory must be an absolute path, "
                              "such as /home/<you>/project.")
    if len(working_directory) > MAX_DIRECTORY or "\x00" in working_directory:
        raise LauncherInvalid(f"The working directory must be a path of at most {MAX_DIRECTORY} "
                              f"characters.")
    return name, command, working_directory


class LauncherStore:
    """Reads and writes users' launchers."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis
        self._replace = redis.register_script(_REPLACE_IF_PRESENT)

    async def list(self, username: str) -> builtins.list[Launcher]:
        """A user's launchers by name."""
        stored = await self._redis.hgetall(launchers_key(username))
        launchers = [Launcher(**json.loads(value)) for value in stored.values()]
        return sorted(launchers, key=lambda launcher: (launcher.name.casefold(), launcher.id))

    async def get(self, username: str, launcher_id: str) -> Launcher:
        """One launcher; :class:`LauncherNotFound` when the user has none by that id."""
        stored = await self._redis.hget(launchers_key(username), launcher_id)
        if not stored:
            raise LauncherNotFound()
        return Launcher(**json.loads(stored))

    async def create(self, username: str, name: str, command: str,
                     working_directory: str) -> Launcher:
        name, command, working_directory = validate(name, command, working_directory)
        if await self._redis.hlen(launchers_key(username)) >= MAX_LAUNCHERS:
            raise LauncherInvalid(f"You already have {MAX_LAUNCHERS} launchers; delete one first.")
        launcher = Launcher(secrets.token_hex(6), name, command, working_directory)
        await self._redis.hset(launchers_key(username), launcher.id, json.dumps(launcher.to_json()))
        return launcher

    async def update(self, username: str, launcher_id: str, name: str, command: str,
                     working_directory: str) -> Launcher:
        """Replace a launcher's fields; :class:`LauncherNotFound` when it does not exist."""
        name, command, working_directory = validate(name, command, working_directory)
        launcher = Launcher(launcher_id, name, command, working_directory)
        replaced = await self._replace(keys=[launchers_key(username)],
                                       args=[launcher_id, json.dumps(launcher.to_json())])
        if not replaced:
            raise LauncherNotFound()
        return launcher

    async def delete(self, username: str, launcher_id: str) -> None:
        if not await self._redis.hdel(launchers_key(username), launcher_id):
            raise LauncherNotFound()
