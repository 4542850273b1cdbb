"""Web apps as the API and the front use them: create, change, run, reload, delete.

Who may do what is decided here: a user acts only on their own apps (any
other domain is "not found"), within their account's number of apps, on
their own ``<user>.<apps domain>`` or, paying, a domain of their own.
"""
from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from ide.accounts import AccountStore, User
from ide.files.errors import FilesError, PathNotFound
from ide.files.paths import PathResolver
from ide.files.store import FileStore
from ide.webapps.diagnostics import AppDiagnostics
from ide.webapps.errors import WebappInvalid
from ide.webapps.frameworks import FLASK_APP, check_framework, wsgi_file_text
from ide.webapps.node_copies import NodeCopies
from ide.webapps.routes import Route, RouteCache
from ide.webapps.runtime import WebappRuntime, program_name, write_new_file, wsgi_file
from ide.webapps.store import StaticMapping, Webapp, WebappStore, new_password_digest
from ide.webapps.watch import AppWatch
from sandbox import Identity, Sandbox
from sandbox.child_setup import WWW_TARGET
from supervisor import ProgramFailed, ProgramSpec, ProgramState, ProgramStatus, Supervisor

log = logging.getLogger(__name__)

APP_LIMITS = {"anon": 0, "free": 1, "hacker": 2, "web_developer": 5}
IDLE_STOP_TYPES = ("anon", "free")
START_TIMEOUT = 30.0
_DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_BOOL_FIELDS = ("force_https", "password_protection_enabled")
_URL_PATH = re.compile(r"/[A-Za-z0-9._~!$&'()*+,;=:@/-]*")


def own_domain(username: str, apps_domain: str) -> str:
    """``<user>.<apps domain>``; underscores become hyphens (host names cannot hold them)."""
    return f"{username.replace('_', '-')}.{apps_domain}"


def python_version_name(value: str) -> str:
    """``python311`` from ``python311``, ``3.11`` or ``python3.11``."""
    text = value.strip().lower().removeprefix("python").replace(".", "")
    return f"python{text}"


def as_bool(field: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on", "false", "0", "no", "off", ""):
        return value.lower() in ("true", "1", "yes", "on")
    raise WebappInvalid(f"{field} must be true or false.")


class WebappService:
    def __init__(self, store: WebappStore, accounts: AccountStore, sandbox: Sandbox, supervisor: Supervisor,
                 files: FileStore, pythons: Mapping[str, str], apps_domain: str, idle_stop: float = 3600.0,
                 node: str = "", named_node: str = "") -> None:
        self.store = store
        self.accounts = accounts
        self.files = files
        # Copies of apps on other nodes follow what is done here, and the other way round.
        self.copies = NodeCopies(store.redis, store, supervisor, node, self._reload_copy)
        self.routes = RouteCache(store.redis, self._load_route, on_message=self.copies.changed)
        self.sandbox = sandbox
        self.supervisor = supervisor
        self.runtime = WebappRuntime(sandbox, pythons, named_node)
        self.diagnostics = AppDiagnostics(sandbox, supervisor, self.runtime)
        self.apps_domain = apps_domain.lower().strip(".")
        self.domains: set[str] = set()
        self._domain_refresher: asyncio.Task[None] | None = None
        # Changed WSGI files reload their apps; free accounts' apps stop after idle_stop seconds
        # without a request.
        self.watch = AppWatch(supervisor, idle_stop)
        self._closing = False

    # -- the API's operations ----------------------------------------------

    async def create(self, user: User, domain_name: Any, python_version: Any, *, command: Any = None,
                     enabled: Any = True, framework: Any = None, source_directory: Any = None,
                     virtualenv_path: Any = None) -> Webapp:
        """A WSGI app, or with ``command`` a website (API v1) running that command.

        ``framework`` (the Web page's wizard: ``wsgi``, ``flask``, ``django``)
        chooses the WSGI file it starts with; Flask's source directory (by
        default ``~/mysite``) gets a first ``flask_app.py``.
        """
        domain = self._check_domain(user, domain_name)
        version = self._check_python(python_version) if command is None else ""
        if command is not None and (not isinstance(command, str) or not command.strip()):
            raise WebappInvalid("command (webapp.command in API v1) must be the command that serves the site on "
                                "$DOMAIN_SOCKET, such as: uvicorn --uds $DOMAIN_SOCKET app:app")
        kind = check_framework(framework)
        identity = await self._identity(user.name, user.account_type)
        default_source = identity.visible_home + ("/mysite" if kind != "wsgi" else "")
        source = self._check_home_path(user, "source_directory", source_directory or default_source)
        venv = self._check_home_path(user, "virtualenv_path", virtualenv_path or "")
        webapp = Webapp(id=0, user=user.name, domain_name=domain, python_version=version,
                        source_directory=source, virtualenv_path=venv,
                        enabled=as_bool("enabled", enabled), force_https=False, password_protection_enabled=False,
                        password_protection_username="", password_digest="", created=time.time(),
                        command=command or "")
        webapp = await self.store.create(webapp, APP_LIMITS.get(user.account_type, 0))
        self.domains.add(domain)
        if not webapp.command:
            await asyncio.to_thread(write_new_file, self.runtime.host_wsgi_file(identity, webapp),
                                    wsgi_file_text(kind, domain, source), identity.owner)
        if kind == "flask":
            await self._write_if_missing(user, f"{source}/flask_app.py", FLASK_APP)
        return webapp

    async def _write_if_missing(self, user: User, path: str, text: str) -> None:
        """A first file in the user's home, through the files store's rules (their quota, no links
        out, their ownership); what is there already stays."""
        access = self.files.own_access(user)
        try:
            await self.files.status(access, path)
        except PathNotFound:
            await self.files.save_text(access, path, text, None)

    async def update(self, user: User, domain: str, changes: Mapping[str, Any]) -> Webapp:
        webapp = await self.store.owned(user.name, domain)
        values: dict[str, Any] = {}
        for field, value in changes.items():
            if value is None:
                continue  # form clients leave out what they do not set
            if field == "python_version":
                values[field] = self._check_python(value)
            elif field in ("source_directory", "virtualenv_path"):
                values[field] = self._check_home_path(user, field, value)
            elif field in _BOOL_FIELDS:
                values[field] = as_bool(field, value)
            elif field == "password_protection_username":
                values[field] = str(value)
            elif field == "password_protection_password":
                if value != "":  # the form's empty field leaves the password as it is
                    values["password_digest"] = new_password_digest(str(value))
            else:
                raise WebappInvalid(f"{field} cannot be changed here.")
        updated = _replace(webapp, values)
        await self.store.save(updated)
        self.routes.forget(webapp.domain_name)
        return updated

    async def delete(self, user: User, domain: str) -> None:
        webapp = await self.store.owned(user.name, domain)
        await self.supervisor.remove(program_name(webapp))
        self.watch.forget(program_name(webapp))
        await self.store.delete(webapp)
        self.routes.forget(webapp.domain_name)
        self.domains.discard(webapp.domain_name)

    async def set_enabled(self, user: User, domain: str, enabled: bool) -> None:
        webapp = await self.store.owned(user.name, domain)
        if enabled and not webapp.enabled:
            limit = APP_LIMITS.get(user.account_type, 0)
            running = sum(1 for app in await self.store.of_user(user.name) if app.enabled)
            if running >= limit:
                raise WebappInvalid(f"A {user.account_type} account can have {limit} enabled web app"
                                    f"{'s' if limit != 1 else ''}; disable another one or upgrade.")
        await self.store.save(_replace(webapp, {"enabled": enabled}))
        self.routes.forget(webapp.domain_name)
        if not enabled and self.supervisor.known(program_name(webapp)):
            await self.supervisor.stop(program_name(webapp))

    async def stop_disabled(self, username: str) -> None:
        """Stop the user's apps this node runs that are disabled now (every node, on a change
        of the user's account type: an app runs on the node that started it)."""
        self.routes.forget_user(username)
        for webapp in await self.store.of_user(username):
            name = program_name(webapp)
            if not webapp.enabled and self.supervisor.known(name):
                await self.supervisor.stop(name)

    async def reload(self, user: User, domain: str) -> ProgramStatus | None:
        """Restart with the app's current settings; returns once it runs, or has failed."""
        webapp = await self.store.owned(user.name, domain)
        if not webapp.enabled:
            return None
        identity = await self._identity(user.name, user.account_type)
        spec = await self._spec(identity, webapp)
        name = spec.name
        if self.supervisor.known(name):
            started = self.supervisor.started_spec(name)
            if started is not None and started.argv == spec.argv and started.cwd == spec.cwd:
                status = await self.supervisor.reload(name)
                if status.running:
                    await self.copies.reloaded(webapp.domain_name)
                    return status
            else:
                await self.supervisor.stop(name)
        await self._ensure_running(identity, webapp)
        await self.copies.reloaded(webapp.domain_name)
        try:
            return await self.supervisor.wait_running(name, START_TIMEOUT)
        except (ProgramFailed, TimeoutError):
            return self.supervisor.status(name)  # the error is in the logs and on the Web page

    async def _reload_copy(self, webapp: Webapp) -> None:
        """Another node reloaded the app: this node's copy reloads gracefully if it runs the same
        program, else it stops and its next visitor starts it anew."""
        owner = await self.accounts.get(webapp.user)
        identity = await self._identity(webapp.user, owner.account_type if owner is not None else "free")
        spec = await self._spec(identity, webapp)
        started = self.supervisor.started_spec(spec.name)
        if started is not None and started.argv == spec.argv and started.cwd == spec.cwd:
            await self.supervisor.reload(spec.name)
        else:
            await self.supervisor.stop(spec.name)

    async def app_of_file(self, username: str, path: str) -> Webapp | None:
        """The user's web app that ``path`` (as the user names it) belongs to, for the editor's
        Reload button: the app whose WSGI file it is, else the one whose source directory
        holds it most closely; None for a file of no app."""
        return owning_app(await self.store.of_user(username), path)

    # -- the front's needs ---------------------------------------------------

    def is_app_host(self, host_name: str) -> bool:
        """Whether a request for ``host_name`` is a web app's (before any IDE route).

        Every ``<name>.<apps domain>`` is, whether or not the app exists (the
        front answers 404 then), and so is every custom domain an app has.
        """
        host = host_name.lower().rstrip(".")
        label, _, rest = host.partition(".")
        return bool(label) and rest == self.apps_domain or host in self.domains

    async def start(self) -> None:
        """Load the custom domains, and keep them fresh (other nodes add some too); listen for
        changes of apps, which the front's routes must forget."""
        await self.routes.start()
        self.domains = await self.store.all_domains()
        self._domain_refresher = asyncio.ensure_future(self._refresh_domains())

    async def _refresh_domains(self) -> None:
        while not self._closing:
            await asyncio.sleep(2.0)
            try:
                self.domains = await self.store.all_domains()
            except Exception:
                log.exception("reading the web apps' domains failed")

    async def route(self, host_name: str) -> Route | None:
        """What the front needs for ``host_name``, None when no app is there."""
        return await self.routes.route(host_name.lower().rstrip("."))

    async def _load_route(self, domain: str) -> Route | None:
        webapp = await self.store.get(domain)
        if webapp is None:
            return None
        owner = await self.accounts.get(webapp.user)
        account_type = owner.account_type if owner is not None else "free"
        mappings = await self.store.static_mappings(domain)
        identity = await self._identity(webapp.user, account_type)
        return Route(webapp, account_type, identity, tuple(mappings), self.runtime.socket_path(identity, webapp),
                     time.monotonic())

    async def running(self, route: Route) -> Path:
        """The app's socket, once it runs; started now if it is not.

        ProgramFailed when it is failing: a visitor's request never restarts
        an app that crashed (its owner reloads it), so a flood of visitors
        costs the node nothing but their own error pages.
        """
        webapp, identity = route.webapp, route.identity
        name = program_name(webapp)
        self.watch.requested(name, route.account_type in IDLE_STOP_TYPES)
        if self.supervisor.known(name):
            status = self.supervisor.status(name)
            if status.state in (ProgramState.FAILED, ProgramState.BACKING_OFF):
                raise ProgramFailed(status.last_error)
        if not (self.supervisor.known(name) and self.supervisor.status(name).running):
            await self._ensure_running(identity, webapp)
            await self.supervisor.wait_running(name, START_TIMEOUT)
        return route.socket_path

    def touch(self, webapp: Webapp) -> None:
        """A request to the app has just ended: its idle time starts now."""
        self.watch.touch(program_name(webapp))

    async def static_mappings(self, user: User, domain: str) -> list[StaticMapping]:
        webapp = await self.store.owned(user.name, domain)
        return await self.store.static_mappings(webapp.domain_name)

    async def static_mapping(self, user: User, domain: str, mapping_id: str) -> StaticMapping:
        webapp = await self.store.owned(user.name, domain)
        return await self.store.static_mapping(webapp.domain_name, mapping_id)

    async def save_static_mapping(self, user: User, domain: str, body: Mapping[str, Any],
                                  mapping_id: str | None = None) -> StaticMapping:
        webapp = await self.store.owned(user.name, domain)
        current = (await self.store.static_mapping(webapp.domain_name, mapping_id)
                   if mapping_id is not None else None)
        url = body.get("url", current.url if current else None)
        path = body.get("path", current.path if current else None)
        if not isinstance(url, str) or not _URL_PATH.fullmatch(url):
            raise WebappInvalid("url must be a URL path starting with /, such as /static/.")
        if not isinstance(path, str):
            raise WebappInvalid("path must be a directory in your home, such as /home/<you>/static.")
        path = self._check_home_path(user, "path", path)
        saved = await self.store.save_static_mapping(webapp.domain_name, url, path, current.id if current else None)
        self.routes.forget(webapp.domain_name)
        return saved

    async def delete_static_mapping(self, user: User, domain: str, mapping_id: str) -> None:
        mapping = await self.static_mapping(user, domain, mapping_id)
        await self.store.delete_static_mapping(domain.lower(), mapping.id)
        self.routes.forget(domain.lower())

    # -- checks ----------------------------------------------------------------

    def _check_domain(self, user: User, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise WebappInvalid("domain_name is required, such as " + own_domain(user.name, self.apps_domain))
        domain = value.strip().lower().rstrip(".")
        own = own_domain(user.name, self.apps_domain)
        if not _DOMAIN.fullmatch(domain):
            raise WebappInvalid(f"{value!r} is not a domain name.")
        if domain != own and (user.account_type in ("free", "anon")
                              or domain == self.apps_domain or domain.endswith("." + self.apps_domain)):
            raise WebappInvalid(f"You can only use your own domain {own} here"
                                + (" on a free account." if user.account_type in ("free", "anon") else "."))
        return domain

    def _check_python(self, value: Any) -> str:
        name = python_version_name(value) if isinstance(value, str) else ""
        if name not in self.runtime.pythons:
            choices = ", ".join(sorted(self.runtime.pythons)) or "none"
            raise WebappInvalid(f"python_version {value!r} is not available here; choose one of {choices}.")
        return name

    def _check_home_path(self, user: User, field: str, value: Any) -> str:
        if not isinstance(value, str):
            raise WebappInvalid(f"{field} must be a path in your home.")
        if value == "":
            return ""
        try:
            return PathResolver(self.sandbox.homes_dir, user.name, ()).parse(value).visible
        except FilesError as exc:
            raise WebappInvalid(f"{field}: {exc}") from None

    async def _ensure_running(self, identity: Identity, webapp: Webapp) -> None:
        await self.watch.starting(program_name(webapp), self.runtime.host_wsgi_file(identity, webapp))
        self.copies.started(webapp.domain_name, program_name(webapp))
        await self.supervisor.ensure_running(await self._spec(identity, webapp))

    async def _spec(self, identity: Identity, webapp: Webapp) -> ProgramSpec:
        source = webapp.source_directory
        present = not source or await asyncio.to_thread(os.path.isdir, self.sandbox.host_path(identity, source))
        return self.runtime.spec(identity, webapp, present)

    async def _identity(self, username: str, account_type: str) -> Identity:
        return await asyncio.to_thread(self.sandbox.identity, username, account_type)

    async def close(self) -> None:
        # A flag as well as the cancellation: one that lands inside a Redis call can be
        # swallowed there (redis-py's timeouts), and the loops must end all the same.
        self._closing = True
        await self.routes.stop()
        await self.watch.close()
        if self._domain_refresher is not None:
            self._domain_refresher.cancel()
            try:
                await self._domain_refresher
            except asyncio.CancelledError:
                pass


def owning_app(webapps: list[Webapp], path: str) -> Webapp | None:
    for webapp in webapps:
        if not webapp.command and path == wsgi_file(WWW_TARGET, webapp.domain_name):
            return webapp
    holders = [webapp for webapp in webapps if webapp.source_directory
               and (path + "/").startswith(webapp.source_directory.rstrip("/") + "/")]
    return max(holders, key=lambda webapp: len(webapp.source_directory.rstrip("/")), default=None)


def _replace(webapp: Webapp, values: Mapping[str, Any]) -> Webapp:
    return replace(webapp, **values)
