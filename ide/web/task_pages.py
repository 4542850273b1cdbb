"""``/user/<u>/tasks/``: a user's scheduled tasks, rendered from the same objects the API returns.

Every change on the page goes through the ``schedule/`` API (app.js's
``data-api`` forms), so the page and scripts obey the same rules.
"""
from __future__ import annotations

import time

import tornado.web

from ide.serializers import task_object
from ide.web.console_pages import UserPageHandler
from tasks.store import TASK_LIMITS


class TasksPage(UserPageHandler):
    async def get(self, owner: str) -> None:
        if owner != self.current_user:
            raise tornado.web.HTTPError(403, "These are another user's tasks.")
        assert self.user is not None
        now = time.time()
        scheduled = [task_object(task, now) for task in await self.services.tasks.list(owner)]
        self.render_page("tasks.html", owner=owner, api_base=f"/api/v0/user/{owner}/",
                         scheduled=scheduled, task_limit=TASK_LIMITS.get(self.user.account_type, 0),
                         account_type=self.user.account_type)
