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
(``consoles.sharing.AccessControl``); ``ide.classes`` does so for classes.
"""
from __future__ import annotations

import asyncio

from tornado.web import decode_signed_value

from consoles import Access, AttachRequest, ConsoleRecord
from consoles.sharing import READ_ONLY, READ_WRITE, AccessChange, AccessControl, ShareStore
from ide.class_store import ClassStore
from ide.services import Services


# Stream attachments being authorized at once; the rest wait their turn.
MAX_AUTHORIZING = 32


class NotConsoleOwner(Exception):
    def __init__(self, owner: str) -> None:
        super().__init__(f"Only {owner}, who owns this console, can change who it is shared with.")


class NotATeacher(Exception):
    def __init__(self) -> None:
        super().__init__("Only teachers can share with all their students, and you have no students "
                         "yet: accept those who named you as their teacher, or give your class the "
                         "link on your Students page.")


class ShareNotFound(Exception):
    def __init__(self, what: str) -> None:
        super().__init__(f"This console is not shared with {what}.")


class ConsoleAccessPolicy:
    """Decides attach requests from the session cookie or an API token, and keeps decisions current."""

    def __init__(self, services: Services, cookie_secret: str) -> None:
        self.services = services
        self.cookie_secret = cookie_secret
        self.shares = ShareStore(services.redis)
        self.classes = ClassStore(services.redis)
        self.control = AccessControl(services.redis, services.consoles, self.access_for)
        self._authorizing = asyncio.Semaphore(MAX_AUTHORIZING)

    async def start(self) -> None:
        """Apply the access changes other nodes publish (call once the IOLoop runs)."""
        await self.control.start()

    async def stop(self) -> None:
        await self.control.stop()

    async def caller(self, request: AttachRequest) -> str | None:
        # Imported here: ide.web.base imports the error table, which imports this module.
        from ide.web.base import SESSION_COOKIE

        header = request.headers.get("Authorization")
        if header is not None:
            scheme, _, token = header.partition(" ")
            return await self.services.tokens.lookup(token.strip()) if scheme == "Token" else None
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        session_id = decode_signed_value(self.cookie_secret, SESSION_COOKIE, cookie, max_age_days=31)
        return await self.services.sessions.lookup(session_id.decode()) if session_id else None

    async def authorize(self, request: AttachRequest) -> Access | None:
        # A class opening a broadcast together must queue here rather than
        # take more Redis connections than the client's pool allows.
        async with self._authorizing:
            username = await self.caller(request)
            return await self.access_for(username, request.console_id) if username else None

    async def access_for(self, username: str, console_id: str) -> Access | None:
        """How ``username`` may use a console, or None; pages ask this too.

        One Redis call at a time, stopping as soon as a rule decides.
        """
        record = await self.services.consoles.record(console_id)
        if record is None:
            return None
        if record.owner == username:
            return Access(username=username, readonly=False)
        mode, broadcast = await self.shares.grant(console_id, username)
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
        records = await self.services.consoles.records(ids)
        # Closed consoles leave their ids behind if closing did not reach the shares.
        await self.shares.drop_from_shared_with(username, by_name - {record.id for record in records})
        return records

    async def class_broadcasts(self, username: str) -> list[ConsoleRecord]:
        """The consoles ``username``'s teacher, once they accepted ``username``, broadcasts to the class now."""
        teacher = (await self.classes.membership(username)).accepted_teacher
        if teacher is None:
            return []
        consoles = await self.services.consoles.list_for(teacher)
        broadcast = set(await self.shares.broadcasts_among(record.id for record in consoles))
        return [record for record in consoles if record.id in broadcast]

    async def recheck(self, change: AccessChange) -> int:
        """Make every node ask again about the connections ``change`` concerns."""
        return await self.control.publish(change)
