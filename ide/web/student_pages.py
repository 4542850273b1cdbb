"""``/user/<u>/students/``: a teacher's class (accepted and pending), its join link, its consoles and
CPU, and the broadcast controls; ``/user/<u>/students/join/<code>/``: joining a class by its link."""
from __future__ import annotations

from typing import Any

import tornado.web

from ide.accounts import AccountError
from ide.serializers import console_object, cpu_object
from ide.services import Services
from ide.web.console_pages import UserPageHandler


async def class_overview(services: Services, teacher: str) -> dict[str, Any]:
    """The Students page: each accepted student's consoles and CPU today, those waiting to be
    accepted, and the teacher's own consoles with whether each is broadcast to the class."""
    classes = services.classes
    students = []
    for name in await classes.students(teacher):
        consoles = [console_object(record) for record in await services.console_manager.list_for(name)]
        students.append({
            "username": name, "consoles": consoles,
            "running": sum(1 for console in consoles if console["status"] == "running"),
            "cpu": cpu_object(await services.cpu.usage(name))})
    own = await services.console_manager.list_for(teacher)
    broadcast = set(await services.console_policy.shares.broadcasts_among(r.id for r in own))
    consoles = [{**console_object(record), "broadcast": record.id in broadcast} for record in own]
    return {"students": students, "pending": await classes.pending(teacher), "consoles": consoles,
            "join_code": await classes.join_code(teacher)}


class StudentsPage(UserPageHandler):
    async def get(self, owner: str) -> None:
        self._check_own(owner)
        overview = await class_overview(self.services, owner)
        join_path = f"/user/{owner}/students/join/{overview['join_code']}/"
        self.render_page("students.html", owner=owner, api_base=f"/api/v0/user/{owner}/",
                         join_url=f"{self.request.protocol}://{self.request.host}{join_path}",
                         new_link=self.get_argument("new_link", None) is not None, **overview)

    async def post(self, owner: str) -> None:
        """The "new link" button: the old join link stops working."""
        self._check_own(owner)
        await self.services.classes.new_join_code(owner)
        self.redirect(f"/user/{owner}/students/?new_link", status=303)

    def _check_own(self, owner: str) -> None:
        if owner != self.current_user:
            raise tornado.web.HTTPError(403, "This is another teacher's class.")


class JoinClassPage(UserPageHandler):
    """One confirmation, then the signed-in visitor is an accepted student of the link's teacher."""

    async def get(self, owner: str, code: str) -> None:
        assert self.user is not None
        teacher = await self.services.classes.check_link(owner, code)
        membership = await self.services.classes.membership(self.user.name)
        self.render_page("join_class.html", teacher=teacher, error=None,
                         own_class=teacher == self.user.name,
                         already=membership.accepted_teacher == teacher,
                         leaving=membership.teacher if membership.teacher != teacher else None)

    async def post(self, owner: str, code: str) -> None:
        assert self.user is not None
        try:
            await self.services.classes.join(owner.lower(), code, self.user.name)
        except AccountError as exc:
            self.set_status(400)
            self.render_page("join_class.html", teacher=owner.lower(), error=str(exc), own_class=True,
                             already=False, leaving=None)
            return
        self.redirect("/", status=303)
