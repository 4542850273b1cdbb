"""Log in, log out, sign up."""
from __future__ import annotations

import string
from urllib.parse import quote, urlsplit

import tornado.web

from ide.accounts import AccountError
from ide.login_throttle import TooManyAttempts
from ide.web.base import PageHandler


def _safe_next(target: str | None) -> str:
    """``target`` if it is a path on this site, else ``/``: ``?next=`` must not
    send a user to another site.

    Browsers forgive a lot in a ``Location``: they drop tabs and newlines
    (``/<tab>/evil.example`` becomes ``//evil.example``), read a backslash
    as ``/`` and take ``https:evil.example`` as an absolute URL.  So only a string that
    starts with one ``/``, holds no control character, whitespace or
    backslash, and parses with neither scheme nor host is kept.  Other
    non-ASCII characters are percent-encoded, as a header must be ASCII.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    if any(char == "\\" or char.isspace() or ord(char) < 0x20 or ord(char) == 0x7F
           for char in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return quote(target, safe=string.punctuation)


class LoginHandler(PageHandler):
    def get(self) -> None:
        if self.current_user:
            self.redirect(_safe_next(self.get_argument("next", None)))
            return
        self.render_page("login.html", error=None, username="",
                         next=_safe_next(self.get_argument("next", None)))

    async def post(self) -> None:
        username = self.get_body_argument("username", "").strip()
        password = self.get_body_argument("password", "")
        target = _safe_next(self.get_body_argument("next", None))
        throttle = self.services.throttle
        try:
            await throttle.check(username, self.client_address())
        except TooManyAttempts as exc:
            self.set_status(429)
            self.set_header("Retry-After", str(exc.retry_after))
            self.render_page("login.html", error=str(exc), username=username, next=target)
            return
        user = await self.services.accounts.verify_password(username, password)
        if user is None:
            await throttle.failed(username, self.client_address())
            self.set_status(403)
            self.render_page("login.html", error="Wrong username or password.",
                             username=username, next=target)
            return
        await throttle.succeeded(user.name, self.client_address())
        await self.start_session(user.name)
        self.redirect(target)


class LogoutHandler(PageHandler):
    async def post(self) -> None:
        await self.end_session()
        self.redirect("/login/")


class SignupHandler(PageHandler):
    def prepare_signup(self) -> None:
        if not self.services.settings.allow_signup:
            raise tornado.web.HTTPError(404, "Sign-up is not enabled on this server.")

    def get(self) -> None:
        self.prepare_signup()
        self.render_page("signup.html", error=None, form={})

    async def post(self) -> None:
        self.prepare_signup()
        form = {name: self.get_body_argument(name, "").strip()
                for name in ("username", "teacher")}
        password = self.get_body_argument("password", "")
        if password != self.get_body_argument("password2", ""):
            self.set_status(400)
            self.render_page("signup.html", error="The two passwords differ.", form=form)
            return
        try:
            user = await self.services.accounts.create(
                form["username"], password, "free", teacher=form["teacher"] or None)
        except AccountError as exc:
            self.set_status(400)
            self.render_page("signup.html", error=str(exc), form=form)
            return
        await self.start_session(user.name)
        self.redirect("/")
