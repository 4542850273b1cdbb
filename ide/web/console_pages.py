"""The Consoles page, one console in the page layout, and /frame."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import tornado.web

from ide.console_service import CONSOLE_LIMITS, ConsoleNotFound
from ide.serializers import console_object, cpu_object
from ide.web.base import PageHandler


class UserPageHandler(PageHandler):
    """A page under /user/<owner>/: logged-in only, owner named in lower case."""

    async def prepare(self) -> None:
        await super().prepare()
        owner = self.path_kwargs.get("owner", "")
        if owner != owner.lower() and self.request.method == "GET":
            path = self.request.path.replace(f"/user/{owner}/", f"/user/{owner.lower()}/", 1)
            query = f"?{self.request.query}" if self.request.query else ""
            self.redirect(path + query, permanent=True)
            return
        if not self.current_user:
            self.redirect(self.get_login_url() + "?" + urlencode({"next": self.request.uri}))


class ConsolesPage(UserPageHandler):
    async def get(self, owner: str) -> None:
        if owner != self.current_user:
            raise tornado.web.HTTPError(403, "These are not your consoles.")
        assert self.user is not None
        service = self.services.console_service
        records = await self.services.console_manager.list_for(owner)
        self.render_page(
            "consoles/list.html", owner=owner, api_base=f"/api/v0/user/{owner}/",
            consoles=[console_object(r, seconds)
                      for r, seconds in zip(records, await service.cpu_seconds_of(records), strict=True)],
            shared_with_you=[console_object(r) for r in await self.services.console_policy.shared_with(owner)],
            kinds=[{"key": k.key, "label": k.label, "executable": k.argv[0], "arguments": list(k.argv[1:])}
                   for k in service.kinds],
            launchers=[launcher.to_json() for launcher in await self.services.launchers.list(owner)],
            console_limit=CONSOLE_LIMITS.get(self.user.account_type, 1),
            cpu=cpu_object(await self.services.cpu.usage(owner)))


class ConsolePage(UserPageHandler):
    template = "consoles/console.html"

    async def get(self, owner: str, console_id: str) -> None:
        assert self.current_user is not None
        access = await self.services.console_policy.access_for(self.current_user, console_id)
        record = await self.services.console_manager.record(console_id)
        if access is None or record is None or record.owner != owner:
            raise ConsoleNotFound()
        self.render_page(self.template, **self.context(record, access.readonly))

    def context(self, record: Any, readonly: bool) -> dict[str, Any]:
        return {"owner": record.owner, "api_base": f"/api/v0/user/{record.owner}/",
                "console": console_object(record), "readonly": readonly}


class FramePage(ConsolePage):
    template = "consoles/frame.html"
