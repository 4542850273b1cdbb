"""``/api/v1/user/<u>/websites/``: PythonAnywhere's newer websites API.

A website is a web app that runs any command, which listens on the Unix
socket named by ``$DOMAIN_SOCKET``; the same store, supervisor and front
serve it.
"""
from __future__ import annotations

from typing import Any

from ide.api.webapps import WebappsApiHandler
from ide.serializers import website_object
from ide.webapps.errors import WebappInvalid
from ide.webapps.store import Webapp

API_V1 = "/api/v1"


class WebsiteListHandler(WebappsApiHandler):
    async def get(self, owner: str) -> None:
        websites = await self.services.webapps.store.of_user(self.check_owner(owner))
        self.write_json([website_object(site) for site in websites if site.command])

    async def post(self, owner: str) -> None:
        self.check_owner(owner)
        assert self.user is not None
        body = self.json_body()
        webapp: Any = body.get("webapp")
        if not isinstance(webapp, dict):
            raise WebappInvalid('webapp must be an object with the command, such as {"command": "..."}.')
        created = await self.services.webapps.create(self.user, body.get("domain_name"), None,
                                                     command=webapp.get("command"),
                                                     enabled=body.get("enabled", True))
        self.write_json(website_object(created), status=201)


class WebsiteHandler(WebappsApiHandler):
    async def website(self, owner: str, domain: str) -> Webapp:
        site = await self.services.webapps.store.owned(self.check_owner(owner), domain)
        if not site.command:
            raise WebappInvalid(f"{domain} is a WSGI web app: use /api/v0/user/{owner}/webapps/{domain}/.")
        return site

    async def get(self, owner: str, domain: str) -> None:
        self.write_json(website_object(await self.website(owner, domain)))

    async def delete(self, owner: str, domain: str) -> None:
        await self.website(owner, domain)
        assert self.user is not None
        await self.services.webapps.delete(self.user, domain)
        self.set_status(204)
        self.finish()


class WebsiteReloadHandler(WebsiteHandler):
    async def post(self, owner: str, domain: str) -> None:
        await self.website(owner, domain)
        assert self.user is not None
        await self.services.webapps.reload(self.user, domain)
        self.write_json({"status": "OK"})
