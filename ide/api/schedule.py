"""``schedule/``: a user's scheduled tasks, in PythonAnywhere's shapes, over ``tasks.TaskStore``."""
from __future__ import annotations

import time

from ide.serializers import task_object
from ide.web.base import ApiHandler
from tasks.fields import TaskFields
from tasks.store import TaskNotFound


def task_id_of(text: str) -> int:
    """Ids are integers; anything else names no task (404, like an unknown id)."""
    if not text.isdigit() or len(text) > 18:
        raise TaskNotFound()
    return int(text)


class ScheduleListHandler(ApiHandler):
    async def get(self, owner: str) -> None:
        tasks = await self.services.tasks.list(self.check_owner(owner))
        now = time.time()
        self.write_json([task_object(task, now) for task in tasks])

    async def post(self, owner: str) -> None:
        name = self.check_owner(owner)
        assert self.user is not None  # prepare() answered 401 otherwise
        task = await self.services.tasks.create(name, self.user.account_type,
                                                TaskFields.for_new_task(self.body_fields()))
        self.write_json(task_object(task, time.time()), status=201)


class ScheduleHandler(ApiHandler):
    async def get(self, owner: str, task_id: str) -> None:
        task = await self.services.tasks.get(self.check_owner(owner), task_id_of(task_id))
        self.write_json(task_object(task, time.time()))

    async def patch(self, owner: str, task_id: str) -> None:
        name, number = self.check_owner(owner), task_id_of(task_id)
        current = await self.services.tasks.get(name, number)
        task = await self.services.tasks.update(name, number, current.fields.changed_by(self.body_fields()))
        self.write_json(task_object(task, time.time()))

    async def delete(self, owner: str, task_id: str) -> None:
        await self.services.tasks.delete(self.check_owner(owner), task_id_of(task_id))
        self.set_status(204)
        self.finish()


class ScheduleExtendHandler(ApiHandler):
    async def post(self, owner: str, task_id: str) -> None:
        task = await self.services.tasks.extend(self.check_owner(owner), task_id_of(task_id))
        self.write_json(task_object(task, time.time()))


class ScheduleStopHandler(ApiHandler):
    async def post(self, owner: str, task_id: str) -> None:
        task = await self.services.tasks.request_stop(self.check_owner(owner), task_id_of(task_id))
        self.write_json(task_object(task, time.time()))
