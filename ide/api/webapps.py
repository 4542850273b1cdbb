"""``webapps/``: PythonAnywhere's web apps API (v0), form-encoded or JSON bodies."""
from __future__ import annotations

from typing import Any

from ide.serializers import static_mapping_object, webapp_object
from ide.web.base import ApiHandler
from ide.webapps.runtime import program_name
from ide.webapps.store import Webapp
from supervisor import ProgramStatus


class WebappsApiHandler(ApiHandler):
    def body_fields(self) -> dict[str, Any]:
        """The body as JSON, or as a form (what PythonAnywhere's own clients send)."""
        if self.request.headers.get("Content-Type", "").startswith("application/json"):
            return self.json_body()
        return {name: values[-1].decode(errors="replace") for name, values in self.request.body_arguments.items()}

    def status_of(self, webapp: Webapp) -> ProgramStatus | None:
        supervisor = self.services.supervisor
        name = program_name(webapp)
        return supervisor.status(name) if supervisor.known(name) else None

    def write_webapp(self, webapp: Webapp, status: int = 200) -> None:
        self.write_json(webapp_object(webapp, self.status_of(webapp)), status=status)


class WebappListHandler(WebappsApiHandler):
    async def get(self, owner: str) -> None:
        webapps = await self.services.webapps.store.of_user(self.check_owner(owner))
        self.write_json([webapp_object(webapp, self.status_of(webapp)) for webapp in webapps])

    async def post(self, owner: str) -> None:
        self.check_owner(owner)
        assert self.user is not None
        body = self.body_fields()
        # The wizard's "any command" is a website, as API v1 makes them.
        command = body.get("command", "") if body.get("framework") == "command" else None
        webapp = await self.services.webapps.create(
            self.user, body.get("domain_name"), body.get("python_version", "python311"), command=command,
            framework=None if command is not None else body.get("framework"),
            source_directory=body.get("source_directory"), virtualenv_path=body.get("virtualenv_path"))
        self.write_webapp(webapp, status=201)


class WebappHandler(WebappsApiHandler):
    async def get(self, owner: str, domain: str) -> None:
        webapp = await self.services.webapps.store.owned(self.check_owner(owner), domain)
        assert self.user is not None
        start_error = await self.services.webapps.diagnostics.start_error(webapp, self.user.account_type)
        self.write_json(webapp_object(webapp, self.status_of(webapp), start_error))

    async def patch(self, owner: str, domain: str) -> None:
        self.check_owner(owner)
        assert self.user is not None
        body = self.body_fields()
        # Anything but these fields is refused by the service, with a message.
        changes = {field: value for field, value in body.items() if field != "domain_name"}
        self.write_webapp(await self.services.webapps.update(self.user, domain, changes))

    async def delete(self, owner: str, domain: str) -> None:
        self.check_owner(owner)
        assert self.user is not None
        await self.services.webapps.delete(self.user, domain)
        self.set_status(204)
        self.finish()


class WebappReloadHandler(WebappsApiHandler):
    async def post(self, owner: str, domain: str) -> None:
        self.check_owner(owner)
        assert self.user is not None
        await self.services.webapps.reload(self.user, domain)
        self.write_json({"status": "OK"})


class WebappEnableHandler(WebappsApiHandler):
    enabled = True

    async def post(self, owner: str, domain: str) -> None:
        self.check_owner(owner)
        assert self.user is not None
        await self.services.webapps.set_enabled(self.user, domain, self.enabled)
        self.write_json({"status": "OK"})


class WebappDisableHandler(WebappEnableHandler):
    enabled = False


class StaticFilesHandler(WebappsApiHandler):
    async def get(self, owner: str, domain: str) -> None:
        self.check_owner(owner)
        assert self.user is not None
        mappings = await self.services.webapps.static_mappings(self.user, domain)
        self.write_json([static_mapping_object(owner.lower(), domain.lower(), m) for m in mappings])

    async def post(self, owner: str, domain: str) -> None:
        self.check_owner(owner)
        assert self.user is not None
        mapping = await self.services.webapps.save_static_mapping(self.user, domain, self.body_fields())
        self.write_json(static_mapping_object(owner.lower(), domain.lower(), mapping), status=201)


class StaticFileHandler(WebappsApiHandler):
    async def get(self, owner: str, domain: str, static_id: str) -> None:
        self.check_owner(owner)
        assert self.user is not None
        mapping = await self.services.webapps.static_mapping(self.user, domain, static_id)
        self.write_json(static_mapping_object(owner.lower(), domain.lower(), mapping))

    async def patch(self, owner: str, domain: str, static_id: str) -> None:
        self.check_owner(owner)
        assert self.user is not None
        mapping = await self.services.webapps.save_static_mapping(self.user, domain, self.body_fields(),
                                                                  static_id)
        self.write_json(static_mapping_object(owner.lower(), domain.lower(), mapping))

    async def delete(self, owner: str, domain: str, static_id: str) -> None:
        self.check_owner(owner)
        assert self.user is not None
        await self.services.webapps.delete_static_mapping(self.user, domain, static_id)
        self.set_status(204)
        self.finish()
