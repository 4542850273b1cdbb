"""``students/``: a teacher's class, accepted and pending, through ``ide.classes.Classroom``."""
from __future__ import annotations

from tornado.web import HTTPError

from ide.web.base import ApiHandler


class StudentListHandler(ApiHandler):
    async def get(self, owner: str) -> None:
        teacher = self.check_owner(owner)
        classes = self.services.classes
        self.write_json({"students": [{"username": n} for n in await classes.students(teacher)],
                         "pending": [{"username": n} for n in await classes.pending(teacher)]})

    async def post(self, owner: str) -> None:
        teacher = self.check_owner(owner)
        username = self.json_body().get("username")
        if not isinstance(username, str) or not username.strip():
            raise HTTPError(400, 'Give the username of the student to accept: {"username": "name"}.')
        name = await self.services.classes.accept(teacher, username.strip())
        self.write_json({"username": name})


class StudentHandler(ApiHandler):
    async def delete(self, owner: str, name: str) -> None:
        await self.services.classes.remove(self.check_owner(owner), name)
        self.set_status(204)
        self.finish()
