"""The dashboard and the Account page."""
from __future__ import annotations

import tornado.web

from ide.accounts import AccountError
from ide.serializers import console_object, cpu_object
from ide.web.base import PageHandler


class DashboardHandler(PageHandler):
    async def get(self) -> None:
        if not self.current_user:
            self.redirect("/login/")
            return
        name = self.current_user
        policy = self.services.console_policy
        broadcasts = [r for r in await policy.class_broadcasts(name) if r.status == "running"]
        shown = {record.id for record in broadcasts}
        self.render_page(
            "dashboard.html",
            consoles=[console_object(r) for r in await self.services.console_manager.list_for(name)],
            class_broadcasts=[console_object(r) for r in broadcasts],
            shared_with_you=[console_object(r) for r in await policy.shared_with(name) if r.id not in shown],
            is_teacher=await policy.is_teacher(name),
            class_requests=len(await self.services.classes.pending(name)),
            membership=await self.services.classes.membership(name),
            cpu=cpu_object(await self.services.cpu.usage(name)))


class AccountHandler(PageHandler):
    """Password, default Python, teacher, the API token, and the links to the user's files."""

    async def _render(self, message: str | None = None, error: str | None = None,
                      new_token: str | None = None) -> None:
        assert self.user is not None
        name = self.user.name
        self.render_page("account.html", message=message, error=error, new_token=new_token,
                         has_token=await self.services.tokens.has_token(name),
                         pythons=self.services.pythons,
                         membership=await self.services.classes.membership(name),
                         file_links=await self.services.files.sharing.of_home(self.user),
                         sharing_api=f"/api/v0/user/{name}/files/sharing/")

    @tornado.web.authenticated
    async def get(self) -> None:
        await self._render()

    @tornado.web.authenticated
    async def post(self) -> None:
        assert self.user is not None
        action = self.get_body_argument("action", "")
        accounts = self.services.accounts
        name = self.user.name
        try:
            if action == "password":
                if await accounts.verify_password(name, self.get_body_argument("current", "")) is None:
                    raise AccountError("The current password is wrong.")
                new = self.get_body_argument("password", "")
                if new != self.get_body_argument("password2", ""):
                    raise AccountError("The two new passwords differ.")
                revoke = self.get_body_argument("revoke_token", "") == "on"
                await self.services.credentials.change_password(
                    name, new, keep_session=self.caller.session_id if self.caller else None,
                    revoke_token=revoke)
                message = ("Password changed; your other sessions were logged out"
                           + (" and your API token revoked." if revoke else "."))
            elif action == "python":
                choice = self.get_body_argument("default_python", "")
                if choice and choice not in self.services.pythons:
                    raise AccountError(f"{choice} is not installed here.")
                await accounts.set_default_python(name, choice or None)
                message = "Default Python saved."
            elif action == "teacher":
                teacher = self.get_body_argument("teacher", "").strip() or None
                membership = await self.services.classes.name_teacher(name, teacher)
                if membership.teacher is None:
                    message = "You have no teacher now."
                elif membership.accepted:
                    message = f"Teacher saved: you are in {membership.teacher}'s class."
                else:
                    message = f"Teacher saved: {membership.teacher} has to accept you on their Students page."
            elif action == "create_token":
                token = await self.services.credentials.new_token(name)
                self.user = await accounts.require(name)
                await self._render(message="New API token created. Copy it now: it will not be shown again.",
                                   new_token=token)
                return
            elif action == "revoke_token":
                await self.services.credentials.revoke_token(name)
                message = "API token revoked."
            else:
                raise AccountError(f"unknown action {action!r}")
        except AccountError as exc:
            self.set_status(400)
            await self._render(error=str(exc))
            return
        self.user = await accounts.require(name)
        await self._render(message=message)
