"""``students/``: a teacher's class, as the API and the Students page see it.

A student is someone who named the caller as their teacher
(``AccountStore.set_teacher`` keeps both sides in step), so removing a
student clears the student's teacher, and ends at once what the class
allowed: watching the teacher's broadcasts, and the teacher's access to the
student's consoles.
"""
from __future__ import annotations

from typing import Any

from ide.console_policy import StudentNotFound
from ide.serializers import console_object, cpu_object
from ide.services import Services
from ide.web.base import ApiHandler


class Classroom:
    """A teacher's students and what the teacher sees of them."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def students(self, teacher: str) -> list[str]:
        return await self.services.accounts.students(teacher)

    async def remove(self, teacher: str, name: str) -> None:
        """``name`` is no longer ``teacher``'s student; raises StudentNotFound if they were not."""
        student = await self.services.accounts.get(name)
        if student is None or student.teacher != teacher:
            raise StudentNotFound(name)
        await self.services.accounts.set_teacher(student.name, None)
        await self.services.console_policy.teacher_changed(student.name, teacher)

    async def overview(self, teacher: str) -> dict[str, Any]:
        """The Students page: each student's consoles and CPU today, and the teacher's own consoles
        with whether each is broadcast to the class."""
        services = self.services
        students = []
        for name in await self.students(teacher):
            consoles = [console_object(record) for record in await services.consoles.list_for(name)]
            students.append({
                "username": name, "consoles": consoles,
                "running": sum(1 for console in consoles if console["status"] == "running"),
                "cpu": cpu_object(await services.cpu.usage(name))})
        own = await services.consoles.list_for(teacher)
        broadcast = set(await services.console_policy.shares.broadcasts_among(r.id for r in own))
        consoles = [{**console_object(record), "broadcast": record.id in broadcast} for record in own]
        return {"students": students, "consoles": consoles}


class StudentListHandler(ApiHandler):
    async def get(self, owner: str) -> None:
        names = await Classroom(self.services).students(self.check_owner(owner))
        self.write_json({"students": [{"username": name} for name in names]})


class StudentHandler(ApiHandler):
    async def delete(self, owner: str, name: str) -> None:
        await Classroom(self.services).remove(self.check_owner(owner), name.lower())
        self.set_status(204)
        self.finish()
