"""The front of every web app: a request whose Host is an app's domain ends here.

In order: the app's record (404 without one), "disabled", HTTPS redirect,
the owner's sign-in path (``owner_pass.py``), password protection, static
file mappings, then the app itself (started on its first request), proxied
over its Unix socket.  The app's own answer passes unchanged, except an
incident (an exception that escaped it, ``incidents.py``), which becomes
the front's error page; the IDE's pages, cookies and headers have nothing
to do with it.  An app that does not answer gets 502 or 504 for this request and
is not restarted for it: whether it runs is the supervisor's business.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import html
from asyncio import Future
from pathlib import Path
from typing import Any

import tornado.web
from tornado.httputil import HTTPHeaders, ResponseStartLine

from ide.services import Services
from ide.web.tornado_adapter import ExceptionHookHandler
from ide.webapps.incidents import INCIDENT_HEADER, error_page, incident_of, sign_in_url, site_of
from ide.webapps.owner_pass import COOKIE_NAME, SIGN_IN_PATH, owner_sign_in, without_owner_cookie
from ide.webapps.proxy import MAX_BODY, QUEUE_SIZE, AppProxy, Upstream, answer_headers, forwarded_headers
from ide.webapps.static import find_mapping, serve_static
from ide.webapps.store import Webapp
from ide.webapps.tunnel import request_head, tunnel, wants_upgrade
from supervisor import ProgramFailed

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title></head>
<body><h1>{title}</h1><p>{message}</p></body></html>
"""
_BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")


@tornado.web.stream_request_body
class WebappFront(ExceptionHookHandler):
    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "DELETE", "PATCH", "PUT", "OPTIONS")

    def initialize(self, services: Services, proxy: AppProxy) -> None:
        self.services = services
        self.proxy = proxy
        self.body: asyncio.Queue[bytes | None] | None = None
        self.incident: str | None = None
        self.account_type = "free"
        self.forwarding: asyncio.Task[int | None] | None = None
        self.webapp: Webapp | None = None
        self.body_left: int | None = None

    def compute_etag(self) -> None:
        """The app's answers carry the app's own validators, never one made up here."""
        return None

    def check_xsrf_cookie(self) -> None:
        """Visitors' forms are the app's business (and its own CSRF protection), not the IDE's."""

    async def prepare(self) -> None:
        webapps = self.services.webapps
        route = await webapps.route(self.request.host_name)
        if route is None:
            self.page(404, "No web app here", f"There is no web app at {self.request.host_name}.")
            return
        webapp = route.webapp
        if not webapp.enabled:
            self.page(503, "This web app is disabled", "Its owner has disabled it for now.")
            return
        if webapp.force_https and self.request.protocol != "https":
            self.redirect(f"https://{self.request.host}{self.request.uri}", permanent=True)
            return
        if self.request.path == SIGN_IN_PATH:
            await owner_sign_in(self, self.services.owner_passes, webapp.domain_name, webapp.user)
            return
        if webapp.password_protection_enabled and not self.credentials_match(webapp):
            self.set_header("WWW-Authenticate", 'Basic realm="This site is password protected"')
            self.page(401, "Password required", "This site is protected by a password.")
            return
        self.account_type = route.identity.account_type
        found = find_mapping(route.mappings, self.request.path) if route.mappings else None
        if found is not None and self.request.method in ("GET", "HEAD"):
            await serve_static(self, route.identity, self.services.sandbox.homes_dir, *found)
            return
        declared = self.request.headers.get("Content-Length", "0")
        if declared.isdigit() and int(declared) > MAX_BODY:
            self.page(413, "Request too large", f"A web app takes bodies up to {MAX_BODY >> 20} MB.")
            return
        try:
            socket_path = await webapps.running(route)
        except (ProgramFailed, TimeoutError):
            self.page(502, "This web app could not start",
                      "Its owner can find the reason in the error and server logs.")
            return
        self.start_forwarding(webapp, socket_path)

    def start_forwarding(self, webapp: Webapp, socket_path: Path) -> None:
        self.webapp = webapp
        if wants_upgrade(self.request.headers):
            self.start_tunnel(socket_path)
            return
        if self.request.method in _BODY_METHODS:
            self.request.connection.set_max_body_size(MAX_BODY)  # type: ignore[union-attr]
            self.body = asyncio.Queue(QUEUE_SIZE)
        headers = without_owner_cookie(forwarded_headers(
            self.request.headers, self.request.remote_ip or "", self.request.protocol,
            self.services.settings.trust_proxy_headers))
        upstream = Upstream(self.on_head, self.on_chunk)
        self.forwarding = asyncio.ensure_future(self.proxy.forward(
            socket_path, self.request.method or "GET", self.request.uri or "/", headers, self.body, upstream))

    def start_tunnel(self, socket_path: Path) -> None:
        """A WebSocket (any ``Upgrade``): the connection becomes the app's (``tunnel.py``)."""
        headers = without_owner_cookie(forwarded_headers(
            self.request.headers, self.request.remote_ip or "", self.request.protocol,
            self.services.settings.trust_proxy_headers))
        head = request_head(self.request.method or "GET", self.request.uri or "/", headers,
                            self.request.headers["Upgrade"])
        asyncio.ensure_future(tunnel(self.detach(), socket_path, head))

    async def data_received(self, chunk: bytes) -> None:
        if self.body is not None:
            await self.body.put(chunk)

    async def answer(self) -> None:
        if self.is_finished():
            return
        if self.body is not None:
            await self.body.put(None)
        assert self.forwarding is not None
        failure = await self.forwarding
        if self.webapp is not None:
            self.services.webapps.touch(self.webapp)
        if failure == 504:
            self.page(504, "The web app took too long", "It did not answer in time.")
        elif failure == 502:
            self.page(502, "The web app did not answer", "It may be busy, or it stopped; try again soon.")
        elif self.incident is not None and self.webapp is not None:
            await self.incident_page(self.webapp, self.incident)
        elif not self.is_finished():
            self.finish()

    def on_head(self, start: ResponseStartLine, headers: HTTPHeaders) -> None:
        self.incident = incident_of(headers.get(INCIDENT_HEADER))
        if self.incident is not None:
            return  # the app raised: its answer is replaced by the front's page
        self.set_status(start.code, start.reason)
        self.clear_header("Content-Type")
        self.clear_header("Server")
        self.clear_header("Date")
        for name, value in answer_headers(headers):
            self.add_header(name, value)
        length = headers.get("Content-Length", "")
        self.body_left = int(length) if length.isdigit() else None

    def on_chunk(self, data: bytes) -> Future[None]:
        """Passed on at once, except the piece that completes a body of known length: the
        answer's end follows it, and headers, body and end then leave in one write."""
        if self.incident is not None:
            discarded: Future[None] = asyncio.get_running_loop().create_future()
            discarded.set_result(None)
            return discarded
        self.write(data)
        if self.body_left is not None:
            self.body_left -= len(data)
            if self.body_left <= 0:
                done: Future[None] = Future()
                done.set_result(None)
                return done
        return self.flush()

    async def incident_page(self, webapp: Webapp, incident: str) -> None:
        """Visitors get a plain page; the owner, signed in on this domain, the traceback too."""
        owner = self.services.owner_passes.is_owner(self.get_cookie(COOKIE_NAME), webapp.domain_name, webapp.user)
        diagnostics = self.services.webapps.diagnostics
        traceback = await diagnostics.traceback(webapp, self.account_type, incident) if owner else None
        self.set_status(500)
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        ide = self.services.settings.site_url or site_of(self.request, self.services.webapps.apps_domain)
        self.finish(error_page(owner, traceback, sign_in_url(ide, webapp.domain_name, self.request.uri or "/")))

    def credentials_match(self, webapp: Webapp) -> bool:
        header = self.request.headers.get("Authorization", "")
        if not header.lower().startswith("basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        username, _, password = decoded.partition(":")
        return webapp.password_matches(username, password)

    def page(self, status: int, title: str, message: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(_PAGE.format(title=html.escape(title), message=html.escape(message)))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        titles = {404: "Not found", 413: "Request too large"}
        self.page(status_code, titles.get(status_code, "Error"), "The request could not be answered.")

    get = head = post = delete = patch = put = options = answer
