"""``always_on/``: PythonAnywhere's always-on tasks, kept running by the supervisor."""
from __future__ import annotations

from ide.always_on.service import AlwaysOnTask
from ide.serializers import always_on_object
from ide.web.base import ApiHandler


class AlwaysOnApiHandler(ApiHandler):
    def task_object(self, task: AlwaysOnTask) -> dict[str, object]:
        return always_on_object(task, self.services.always_on.status(task))


class AlwaysOnListHandler(AlwaysOnApiHandler):
    async def get(self, owner: str) -> None:
        self.check_owner(owner)
        assert self.user is not None
        self.write_json([self.task_object(task) for task in await self.services.always_on.list(self.user)])

    async def post(self, owner: str) -> None:
        self.check_owner(owner)
        assert self.user is not None
        task = await self.services.always_on.create(self.user, self.json_body())
        self.write_json(self.task_object(task), status=201)


class AlwaysOnHandler(AlwaysOnApiHandler):
    async def get(self, owner: str, task_id: str) -> None:
        self.check_owner(owner)
        assert self.user is not None
        self.write_json(self.task_object(await self.services.always_on.get(self.user, task_id)))

    async def patch(self, owner: str, task_id: str) -> None:
        self.check_owner(owner)
        assert self.user is not None
        task = await self.services.always_on.update(self.user, task_id, self.json_body())
        self.write_json(self.task_object(task))

    async def delete(self, owner: str, task_id: str) -> None:
        self.check_owner(owner)
        assert self.user is not None
        await self.services.always_on.delete(self.user, task_id)
        self.set_status(204)
        self.finish()


class AlwaysOnRestartHandler(AlwaysOnApiHandler):
    async def post(self, owner: str, task_id: str) -> None:
        self.check_owner(owner)
        assert self.user is not None
        service = self.services.always_on
        task = await service.get(self.user, task_id)
        await service.restart(self.user, task)
        self.write_json(self.task_object(task))
