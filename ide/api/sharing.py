"""``consoles/<id>/sharing/``: an owner shares a console by name, or with all their students.

The rules live in :class:`ConsoleSharing`, a plain class the handlers call;
revoking a share or ending a broadcast takes effect at once on open
connections (see ``ide.console_policy``).
"""
from __future__ import annotations

from typing import Any

from tornado.web import HTTPError

from consoles import ConsoleRecord
from consoles.sharing import MODES, AccessChange, ShareModeInvalid
from ide.accounts import AccountError, canonical_username
from ide.api.students import StudentHandler, StudentListHandler
from ide.console_policy import NotATeacher, NotConsoleOwner, ShareNotFound
from ide.console_service import ConsoleNotFound
from ide.routes import USER_API, Route
from ide.services import Services
from ide.web.base import ApiHandler
from ide.web.student_pages import JoinClassPage, StudentsPage

# The last segment of the URL that ends a broadcast; so no share may use it as a name.
CLASS_SEGMENT = "all_students"


def share_object(username: str, mode: str) -> dict[str, str]:
    return {"username": username, "mode": mode}


class ConsoleSharing:
    """Who a console is shared with, changed only by its owner."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.policy = services.console_policy

    async def owned(self, caller: str, console_id: str) -> ConsoleRecord:
        """The caller's console; 404 for consoles they cannot see, 403 for those they only use."""
        record = await self.services.consoles.record(console_id)
        if record is None:
            raise ConsoleNotFound()
        if record.owner != caller:
            if await self.policy.access_for(caller, console_id) is None:
                raise ConsoleNotFound()
            raise NotConsoleOwner(record.owner)
        return record

    async def describe(self, caller: str, console_id: str) -> dict[str, Any]:
        record = await self.owned(caller, console_id)
        shares = await self.policy.shares.shares(record.id)
        return {"shares": [share_object(name, mode) for name, mode in shares.items()],
                "all_students": await self.policy.shares.is_broadcast(record.id)}

    async def share(self, caller: str, console_id: str, username: str, mode: object) -> tuple[str, bool]:
        """Share with ``username`` in ``mode``: the sharee's name, and True when the share is new."""
        record = await self.owned(caller, console_id)
        if not isinstance(mode, str) or mode not in MODES:
            raise ShareModeInvalid(mode)
        sharee = (await self.services.accounts.require(username)).name
        if sharee == caller:
            raise AccountError("You own this console already: share it with someone else.")
        if sharee == CLASS_SEGMENT:
            raise AccountError(f"A user named {CLASS_SEGMENT} cannot be given a share: the name "
                               f"stands for all your students in sharing URLs.")
        previous = await self.policy.shares.share(record.id, sharee, mode)
        if previous != mode:
            # Someone watching through a broadcast may type now; a typist may only watch.
            await self.policy.recheck(AccessChange(
                console_id=record.id, username=sharee,
                reason=f"{caller} stopped sharing this console with you."))
        return sharee, previous is None

    async def revoke(self, caller: str, console_id: str, username: str) -> None:
        """Withdraw a share; that person's open connections end unless another rule lets them stay."""
        record = await self.owned(caller, console_id)
        sharee = canonical_username(username)
        if not await self.policy.shares.revoke(record.id, sharee):
            raise ShareNotFound(sharee)
        await self.policy.recheck(AccessChange(
            console_id=record.id, username=sharee,
            reason=f"{caller} stopped sharing this console with you."))

    async def broadcast(self, caller: str, console_id: str) -> bool:
        """Share read-only with every student of the caller, now and while it lasts; True if new."""
        record = await self.owned(caller, console_id)
        if not await self.policy.is_teacher(caller):
            raise NotATeacher()
        return await self.policy.shares.start_broadcast(record.id)

    async def end_broadcast(self, caller: str, console_id: str) -> None:
        """Stop sharing with the class; the students it let in are disconnected."""
        record = await self.owned(caller, console_id)
        if not await self.policy.shares.end_broadcast(record.id):
            raise ShareNotFound("your students")
        await self.policy.recheck(AccessChange(
            console_id=record.id, reason=f"{caller} stopped sharing this console with the class."))


class SharingApiHandler(ApiHandler):
    @property
    def sharing(self) -> ConsoleSharing:
        return ConsoleSharing(self.services)


class SharingHandler(SharingApiHandler):
    async def get(self, owner: str, console_id: str) -> None:
        self.write_json(await self.sharing.describe(self.check_owner(owner), console_id))

    async def post(self, owner: str, console_id: str) -> None:
        caller = self.check_owner(owner)
        body = self.json_body()
        if body.get("all_students") is True:
            created = await self.sharing.broadcast(caller, console_id)
            self.write_json({"all_students": True}, status=201 if created else 200)
            return
        username, mode = body.get("username"), body.get("mode")
        if not isinstance(username, str) or not username.strip():
            raise HTTPError(400, 'Give {"username": "name", "mode": "ro" or "rw"}, '
                                 'or {"all_students": true}.')
        name, created = await self.sharing.share(caller, console_id, username, mode)
        self.write_json(share_object(name, str(mode)), status=201 if created else 200)


class ShareHandler(SharingApiHandler):
    async def delete(self, owner: str, console_id: str, username: str) -> None:
        await self.sharing.revoke(self.check_owner(owner), console_id, username)
        self.set_status(204)
        self.finish()


class BroadcastHandler(SharingApiHandler):
    async def delete(self, owner: str, console_id: str) -> None:
        await self.sharing.end_broadcast(self.check_owner(owner), console_id)
        self.set_status(204)
        self.finish()


def sharing_routes(services: Services) -> tuple[list[Route], list[Route]]:
    """(API routes, page routes) of console sharing and classrooms, for ``ide/app.py``.

    ``all_students/`` must come before ``{username}/``, which would match it too.
    """
    kwargs = {"services": services}
    sharing = USER_API + "/consoles/{console_id}/sharing/"
    api = [
        Route(sharing, SharingHandler, kwargs),
        Route(sharing + CLASS_SEGMENT + "/", BroadcastHandler, kwargs),
        Route(sharing + "{username}/", ShareHandler, kwargs),
        Route(USER_API + "/students/", StudentListHandler, kwargs),
        Route(USER_API + "/students/{name}/", StudentHandler, kwargs),
    ]
    pages = [Route("/user/{owner}/students/", StudentsPage, kwargs),
             Route("/user/{owner}/students/join/{code}/", JoinClassPage, kwargs)]
    return api, pages
