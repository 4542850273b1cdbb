"""Log in, log out, sign up."""
from __future__ import annotations

import tornado.web

from ide.accounts import AccountError
from ide.login_throttle import TooManyAttempts
from ide.redirects import safe_next
from ide.web.base import PageHandler


class LoginHandler(PageHandler):
    def get(self) -> None:
        if self.current_user:
            self.redirect(safe_next(self.get_argument("next", None)))
            return
        self.render_page("login.html", error=None, username="",
                         next=safe_next(self.get_argument("next", None)))

    async def post(self) -> None:
        username = self.get_body_argument("username", "").strip()
        password = self.get_body_argument("password", "")
        target = safe_next(self.get_body_argument("next", None))
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
