"""``teacher/``: the caller's own teacher."""
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
        old = (await self.services.accounts.require(name)).teacher
        await self.services.accounts.set_teacher(name, teacher)
        user = await self.services.accounts.require(name)
        if old != user.teacher:
            await self.services.console_policy.teacher_changed(name, old)
        self.write_json({"teacher": user.teacher})

    async def delete(self, owner: str) -> None:
        name = self.check_owner(owner)
        old = (await self.services.accounts.require(name)).teacher
        await self.services.accounts.set_teacher(name, None)
        await self.services.console_policy.teacher_changed(name, old)
        self.set_status(204)
        self.finish()
