"""Who may attach to a console, and how: the policy ide hands to consoles.

The rules, strongest first:

* the owner: read-write;
* the owner's teacher, once the teacher has accepted the owner as a student:
  read-write, without being invited (a teacher helps; the student sees who
  is attached);
* a share by name: its mode;
* a broadcast by the owner: read-only for every *accepted* student of the
  owner now, so a student who joins the class while it lasts gets in too;
* everybody else: nothing.

Naming someone as one's teacher is only a nomination and grants nothing
either way (``ide.class_store``).  The page and the stream both ask
:meth:`ConsoleAccessPolicy.access_for`.  When a rule's inputs change (a
share, a broadcast, a class membership), :meth:`ConsoleAccessPolicy.recheck`
makes every node ask again about the connections concerned
(``consoles.access_control.AccessControl``); ``ide.classes`` does so for classes.
"""
from __future__ import annotations

import asyncio
from dataclasses import replace

import redis.asyncio as aioredis

from consoles import Access, AttachRequest, ConsoleManager, ConsoleRecord
from consoles.access_control import AccessControl, AccountTypeHook
from consoles.sharing import READ_ONLY, READ_WRITE, AccessChange, ShareStore
from ide.auth import Authenticator, InvalidToken
from ide.class_store import ClassStore

# Stream attachments being authorized at once; the rest wait their turn.
MAX_AUTHORIZING = 32


class ConsoleAccessPolicy:
    """Decides attach requests from the session cookie or an API token, and keeps decisions current.

    Every live connection is checked again when a rule's inputs change, and
    also when the credential it came with may have ended: that check asks
    the authenticator first, so a logout or a new password closes the
    streams an old tab still had open.
    """

    def __init__(self, redis: aioredis.Redis, manager: ConsoleManager, authenticator: Authenticator,
                 on_account_type: AccountTypeHook | None = None) -> None:
        self.manager = manager
        self.authenticator = authenticator
        self.shares = ShareStore(redis)
        self.classes = ClassStore(redis)
        self.control = AccessControl(redis, manager, self.recheck_connection, on_account_type)
        self._authorizing = asyncio.Semaphore(MAX_AUTHORIZING)

    async def start(self) -> None:
        """Apply the access changes other nodes publish (call once the IOLoop runs)."""
        await self.control.start()

    async def stop(self) -> None:
        await self.control.stop()

    async def authorize(self, request: AttachRequest) -> Access | None:
        """Who is attaching a stream (the same :class:`~ide.auth.Authenticator` as pages and
        API), and how they may use the console; None refuses."""
        # A class opening a broadcast together must queue here rather than
        # take more Redis connections than the client's pool allows.
        async with self._authorizing:
            try:
                caller = await self.authenticator.caller(
                    request.cookies, request.headers.get("Authorization"))
            except InvalidToken:
                return None
            if caller is None:
                return None
            access = await self.access_for(caller.username, request.console_id)
            return replace(access, credential=caller.credential) if access else None

    async def recheck_connection(self, username: str, credential: str, console_id: str) -> Access | None:
        """May a connection already open stay: its credential must still hold, and the
        rules still let its user in (asked after every change, see :meth:`recheck`)."""
        if not await self.authenticator.still_valid(username, credential):
            return None
        return await self.access_for(username, console_id)

    async def access_for(self, username: str, console_id: str) -> Access | None:
        """How ``username`` may use a console, or None; pages ask this too.

        One Redis call at a time, stopping as soon as a rule decides.
        """
        record = await self.manager.record(console_id)
        if record is None:
            return None
        if record.owner == username:
            return Access(username=username, readonly=False)
        mode, broadcast = await self.shares.mode_and_broadcast(console_id, username)
        if mode == READ_WRITE:
            return Access(username=username, readonly=False)
        if await self.classes.is_student(teacher=username, student=record.owner):
            return Access(username=username, readonly=False)
        if mode == READ_ONLY:
            return Access(username=username, readonly=True)
        if broadcast and await self.classes.is_student(teacher=record.owner, student=username):
            return Access(username=username, readonly=True)
        return None

    async def is_teacher(self, username: str) -> bool:
        """A teacher is someone who has accepted at least one student (a nomination is not enough)."""
        return await self.classes.has_students(username)

    async def shared_with(self, username: str) -> list[ConsoleRecord]:
        """Consoles shared with ``username`` by name, and those their teacher broadcasts; oldest first."""
        by_name = await self.shares.shared_with(username)
        ids = set(by_name) | {record.id for record in await self.class_broadcasts(username)}
        records = await self.manager.records(ids)
        # Closed consoles leave their ids behind if closing did not reach the shares.
        await self.shares.drop_from_shared_with(username, by_name - {record.id for record in records})
        return records

    async def class_broadcasts(self, username: str) -> list[ConsoleRecord]:
        """The consoles ``username``'s teacher, once they accepted ``username``, broadcasts to the class now."""
        teacher = (await self.classes.membership(username)).accepted_teacher
        if teacher is None:
            return []
        consoles = await self.manager.list_for(teacher)
        broadcast = set(await self.shares.broadcasts_among(record.id for record in consoles))
        return [record for record in consoles if record.id in broadcast]

    async def recheck(self, change: AccessChange) -> int:
        """Make every node ask again about the connections ``change`` concerns."""
        return await self.control.publish(change)
