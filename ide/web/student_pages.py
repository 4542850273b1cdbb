"""``/user/<u>/students/``: a teacher's class, their consoles and CPU, and the broadcast controls."""
from __future__ import annotations

import tornado.web

from ide.api.students import Classroom
from ide.web.console_pages import UserPageHandler


class StudentsPage(UserPageHandler):
    async def get(self, owner: str) -> None:
        if owner != self.current_user:
            raise tornado.web.HTTPError(403, "This is another teacher's class.")
        overview = await Classroom(self.services).overview(owner)
        self.render_page("students.html", owner=owner, api_base=f"/api/v0/user/{owner}/", **overview)
