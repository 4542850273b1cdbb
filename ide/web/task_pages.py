"""``/user/<u>/tasks/``: a user's scheduled tasks, rendered from the same objects the API returns.

Every change on the page goes through the ``schedule/`` API (app.js's
``data-api`` forms), so the page and scripts obey the same rules.
"""
from __future__ import annotations

import time

import tornado.web

from ide.serializers import always_on_object, task_object
from ide.web.console_pages import UserPageHandler
from tasks.always_on import ALWAYS_ON_LIMITS
from tasks.keeper import program_name
from tasks.store import TASK_LIMITS


class TasksPage(UserPageHandler):
    async def get(self, owner: str) -> None:
        if owner != self.current_user:
            raise tornado.web.HTTPError(403, "These are another user's tasks.")
        assert self.user is not None
        now = time.time()
        scheduled = [task_object(task, now) for task in await self.services.tasks.list(owner)]
        supervisor = self.services.programs.supervisor
        always_on = [always_on_object(task, await supervisor.recorded(program_name(task.id)), now)
                     for task in await self.services.always_on.list(owner)]
        account_type = self.user.account_type
        self.render_page("tasks.html", owner=owner, api_base=f"/api/v0/user/{owner}/",
                         scheduled=scheduled, task_limit=TASK_LIMITS.get(account_type, 0),
                         always_on=always_on, always_on_limit=ALWAYS_ON_LIMITS.get(account_type, 0),
                         account_type=account_type)
