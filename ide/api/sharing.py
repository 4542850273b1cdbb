"""``consoles/<id>/sharing/``: an owner shares a console by name, or with all their students.

The rules live in :class:`ide.console_sharing.ConsoleSharing`, a plain class
the handlers call; revoking a share or ending a broadcast takes effect at
once on open connections.
"""
from __future__ import annotations

from tornado.web import HTTPError

from ide.api.students import StudentHandler, StudentListHandler
from ide.console_sharing import CLASS_SEGMENT, ConsoleSharing
from ide.routes import USER_API, Route
from ide.serializers import share_object
from ide.services import Services
from ide.web.base import ApiHandler
from ide.web.student_pages import JoinClassPage, StudentsPage


class SharingApiHandler(ApiHandler):
    @property
    def sharing(self) -> ConsoleSharing:
        return self.services.console_sharing


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
