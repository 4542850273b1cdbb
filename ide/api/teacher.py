"""``teacher/``: the caller's own teacher (a nomination until the teacher accepts it)."""
from __future__ import annotations

from ide.accounts import AccountError
from ide.web.base import ApiHandler


class TeacherHandler(ApiHandler):
    async def get(self, owner: str) -> None:
        user = await self.services.accounts.require(self.check_owner(owner))
        self.write_json({"teacher": user.teacher})

    async def put(self, owner: str) -> None:
        name = self.check_owner(owner)
        teacher = self.json_body().get("teacher")
        if not isinstance(teacher, str) or not teacher:
            raise AccountError('give the teacher\'s username as {"teacher": "name"}')
        membership = await self.services.classes.name_teacher(name, teacher)
        self.write_json({"teacher": membership.teacher})

    async def delete(self, owner: str) -> None:
        await self.services.classes.name_teacher(self.check_owner(owner), None)
        self.set_status(204)
        self.finish()
