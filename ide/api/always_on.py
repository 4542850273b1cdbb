"""``always_on/``: a user's always-on tasks, in PythonAnywhere's shapes, over ``tasks.AlwaysOnStore``.

The API writes the wanted state; the node that keeps a task makes it so
(``tasks.keeper``) and the state shown is what that node's supervisor last
recorded.
"""
from __future__ import annotations

import time
from typing import Any

from ide.api.schedule import task_id_of
from ide.serializers import always_on_object
from ide.web.base import ApiHandler
from tasks.always_on import AlwaysOnNotFound, AlwaysOnTask
from tasks.keeper import program_name
from tasks.store import TaskNotFound


def always_on_id_of(text: str) -> int:
    try:
        return task_id_of(text)
    except TaskNotFound:
        raise AlwaysOnNotFound() from None


class AlwaysOnBase(ApiHandler):
    async def shown(self, task: AlwaysOnTask) -> dict[str, Any]:
        status = await self.services.programs.supervisor.recorded(program_name(task.id))
        return always_on_object(task, status, time.time())


class AlwaysOnListHandler(AlwaysOnBase):
    async def get(self, owner: str) -> None:
        tasks = await self.services.always_on.list(self.check_owner(owner))
        self.write_json([await self.shown(task) for task in tasks])

    async def post(self, owner: str) -> None:
        name = self.check_owner(owner)
        assert self.user is not None  # prepare() answered 401 otherwise
        task = await self.services.always_on.create(name, self.user.account_type, self.body_fields(),
                                                    self.services.console_manager.node_id)
        self.write_json(await self.shown(task), status=201)


class AlwaysOnHandler(AlwaysOnBase):
    async def get(self, owner: str, task_id: str) -> None:
        task = await self.services.always_on.get(self.check_owner(owner), always_on_id_of(task_id))
        self.write_json(await self.shown(task))

    async def patch(self, owner: str, task_id: str) -> None:
        task = await self.services.always_on.change(self.check_owner(owner), always_on_id_of(task_id),
                                                    self.body_fields())
        self.write_json(await self.shown(task))

    async def delete(self, owner: str, task_id: str) -> None:
        await self.services.always_on.delete(self.check_owner(owner), always_on_id_of(task_id))
        self.set_status(204)
        self.finish()


class AlwaysOnRestartHandler(AlwaysOnBase):
    async def post(self, owner: str, task_id: str) -> None:
        task = await self.services.always_on.request_restart(self.check_owner(owner), always_on_id_of(task_id))
        self.write_json(await self.shown(task))
