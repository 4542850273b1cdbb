"""``/user/<u>/webapps/``: the Web page, a user's web apps and their settings.

Every change goes through API v0 (forms with ``data-api``), so the page
needs no handler of its own for writes.
"""
from __future__ import annotations

from urllib.parse import urlencode

import tornado.web

from ide.redirects import safe_next
from ide.serializers import static_mapping_object, webapp_object
from ide.web.base import PageHandler
from ide.web.console_pages import UserPageHandler
from ide.webapps.incidents import site_of
from ide.webapps.owner_pass import SIGN_IN_PATH
from ide.webapps.runtime import log_file, program_name, wsgi_file
from ide.webapps.service import own_domain
from sandbox import LOG_TARGET, WWW_TARGET


class WebappsPage(UserPageHandler):
    async def get(self, owner: str) -> None:
        if owner != self.current_user:
            raise tornado.web.HTTPError(403, "These are not your web apps.")
        webapps = self.services.webapps
        supervisor = self.services.supervisor
        apps = []
        for webapp in await webapps.store.of_user(owner):
            name = program_name(webapp)
            status = supervisor.status(name) if supervisor.known(name) else None
            mappings = await webapps.store.static_mappings(webapp.domain_name)
            domain = webapp.domain_name
            assert self.user is not None
            start_error = await webapps.diagnostics.start_error(webapp, self.user.account_type)
            apps.append({
                **webapp_object(webapp, status, start_error),
                "command": webapp.command,
                "wsgi_file": "" if webapp.command else wsgi_file(WWW_TARGET, domain),
                "logs": {kind: log_file(LOG_TARGET, domain, kind) for kind in ("access", "error", "server")},
                "static_files": [static_mapping_object(owner, domain, m) for m in mappings],
                "visit": f"{self.request.protocol}://{domain}{_port(self.request.host)}/",
                "virtualenv_problem": await webapps.diagnostics.virtualenv_problem(webapp, self.user.account_type),
            })
        self.render_page("webapps.html", owner=owner, api_base=f"/api/v0/user/{owner}/", apps=apps,
                         own_domain=own_domain(owner, webapps.apps_domain),
                         pythons=sorted(webapps.runtime.pythons))


class OwnerPassPage(PageHandler):
    """``/webapps/owner-pass/?domain=&next=``: where a web app's error page sends its owner.

    The owner, logged in here, goes back to the app's domain with a pass
    (``ide/webapps/owner_pass.py``) that the front there turns into its own
    cookie; nobody else gets one, and the IDE's cookie never leaves this site.
    """

    async def get(self) -> None:
        if not self.current_user:
            self.redirect(self.get_login_url() + "?" + urlencode({"next": self.request.uri}))
            return
        domain = self.get_query_argument("domain", "").strip().lower().rstrip(".")
        webapp = await self.services.webapps.store.get(domain) if domain else None
        if webapp is None or webapp.user != self.current_user:
            raise tornado.web.HTTPError(404, f"You have no web app at {domain or 'that domain'}.")
        token = self.services.owner_passes.issue(webapp.domain_name, webapp.user)
        self.set_header("Cache-Control", "no-store")
        self.redirect(f"{site_of(self.request, webapp.domain_name)}{SIGN_IN_PATH}?" + urlencode(
            {"token": token, "next": safe_next(self.get_query_argument("next", "/"))}))


def _port(host: str) -> str:
    """The ``:port`` of the IDE's own address, which the apps share."""
    _, colon, port = host.rpartition(":")
    return f":{port}" if colon and port.isdigit() else ""
