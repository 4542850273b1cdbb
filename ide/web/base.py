"""Handler base classes: who is asking, how errors look, how pages render."""
from __future__ import annotations

import json
from collections.abc import Awaitable
from typing import Any

import tornado.web

from ide.accounts import User
from ide.auth import SESSION_COOKIE, Caller, InvalidToken
from ide.services import Services
from ide.web import errors
from ide.web.tornado_adapter import ExceptionHookHandler


class BaseHandler(ExceptionHookHandler):
    """Common to pages and API: services, the logged-in user, error mapping."""

    services: Services
    caller: Caller | None = None
    user: User | None = None

    def initialize(self, services: Services) -> None:
        self.services = services

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:  # pragma: no cover
        return None

    async def prepare(self) -> None:
        await self.authenticate(accept_token=False)

    async def authenticate(self, *, accept_token: bool) -> None:
        """Who is asking, from the session cookie (or, for the API, a token header)."""
        header = self.request.headers.get("Authorization") if accept_token else None
        cookies = {name: morsel.value for name, morsel in self.request.cookies.items()}
        self.caller = await self.services.authenticator.caller(cookies, header)
        self.user = await self.services.accounts.get(self.caller.username) if self.caller else None
        self.current_user = self.user.name if self.user else None

    def cookie_options(self) -> dict[str, Any]:
        return {"httponly": True, "samesite": "Lax",
                "secure": self.services.settings.secure_cookies}

    async def start_session(self, username: str) -> None:
        session_id = await self.services.sessions.create(username)
        self.set_signed_cookie(SESSION_COOKIE, session_id, expires_days=30, **self.cookie_options())

    async def end_session(self) -> None:
        """Log out: the session and every console connection it opened end."""
        if self.caller is not None and self.caller.session_id is not None:
            await self.services.credentials.log_out(self.caller.session_id)
        self.clear_cookie(SESSION_COOKIE)

    def client_address(self) -> str:
        return self.request.remote_ip or "-"

    def answer_exception(self, e: BaseException) -> bool:
        status = errors.status_for(e)
        if status is None or isinstance(e, tornado.web.HTTPError):
            return False
        # A domain error: the user's request was wrong, not the server.
        if not self.is_finished():
            self.send_error(status, exc_info=(type(e), e, e.__traceback__))
        return True

    def error_message(self, status: int, kwargs: dict[str, Any]) -> str:
        exc_info = kwargs.get("exc_info")
        return errors.message_for(status, exc_info[1] if exc_info else None)


class PageHandler(BaseHandler):
    """An HTML page rendered from a Jinja2 template."""

    def render_page(self, template: str, **context: Any) -> None:
        self.finish(self.render_page_string(template, **context))

    def render_page_string(self, template: str, **context: Any) -> str:
        services = self.services
        context.setdefault("current_user", self.current_user)
        context.setdefault("user", self.user)
        return services.templates.get_template(template).render(
            xsrf_token=self.xsrf_token.decode(),
            xsrf_form_html=self.xsrf_form_html,
            asset=services.assets.url,
            static_url=self.static_url,
            allow_signup=services.settings.allow_signup,
            sandbox_status=services.sandbox_status,
            request_path=self.request.path,
            **context)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.finish(self.render_page_string(
            "error.html", status=status_code, message=self.error_message(status_code, kwargs)))

    def get_login_url(self) -> str:
        return "/login/"


class ApiHandler(BaseHandler):
    """A JSON endpoint under /api/v0/user/<owner>/, token or session auth.

    With an ``Authorization`` header only the token counts (a cookie sent
    alongside is ignored), so XSRF checks can be skipped for it safely;
    cookie callers must send the ``X-XSRFToken`` header on writes.
    """

    def check_xsrf_cookie(self) -> None:
        # No cookie session means nothing to forge; prepare() answers 401.
        if "Authorization" in self.request.headers or not self.get_cookie(SESSION_COOKIE):
            return
        try:
            super().check_xsrf_cookie()
        except tornado.web.HTTPError:
            raise tornado.web.HTTPError(
                403, "A write with the session cookie must send the X-XSRFToken header "
                     "(the value of the _xsrf cookie), or use Authorization: Token.") from None

    async def prepare(self) -> None:
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        try:
            await self.authenticate(accept_token=True)
        except InvalidToken as exc:
            raise tornado.web.HTTPError(401, str(exc)) from None
        if self.user is None:
            if self.caller is not None:
                raise tornado.web.HTTPError(401, "Invalid token.")
            raise tornado.web.HTTPError(401, "Authentication credentials were not provided.")

    def check_owner(self, owner: str) -> str:
        """The URL's user, which must be the caller; 403 otherwise."""
        if owner.lower() != self.current_user:
            raise tornado.web.HTTPError(403, "You do not have permission to perform this action.")
        return owner.lower()

    def json_body(self) -> dict[str, Any]:
        """The request's JSON object, or a 400 that says what is wrong with it."""
        try:
            body = json.loads(self.request.body or b"{}")
        except (ValueError, UnicodeDecodeError) as exc:
            raise tornado.web.HTTPError(400, "The body is not valid JSON: %s", exc) from None
        if not isinstance(body, dict):
            raise tornado.web.HTTPError(400, "The body must be a JSON object.")
        return body

    def body_fields(self) -> dict[str, Any]:
        """The request's fields, JSON or form-encoded (PythonAnywhere's API takes both).

        Form values arrive as strings; each resource's parser accepts both.
        """
        content_type = self.request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            return {name: self.get_body_argument(name) for name in self.request.body_arguments}
        return self.json_body()

    def write_json(self, value: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(value))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        if status_code == 401:
            self.set_header("WWW-Authenticate", 'Token realm="api"')
        self.finish(json.dumps({"detail": self.error_message(status_code, kwargs)}))
