"""Changing how a user proves who they are, and ending what the old proof opened.

Each operation here ends the sessions or the token it concerns *and* asks
every node to check again the live console connections they opened, so that
no caller (the Account page, logout, the CLI) can change a credential and
forget the connections: an old tab stops typing the moment its password,
session or token stops being valid.
"""
from __future__ import annotations

from consoles.sharing import AccessChange, Recheck
from ide.accounts import AccountStore
from ide.sessions import SessionStore
from ide.tokens import TokenStore

PASSWORD_CHANGED = "Your password was changed: log in again to use this console."
LOGGED_OUT = "You logged out."
TOKEN_REVOKED = "The API token this connection used was revoked."


class CredentialService:
    """Passwords, logins and API tokens, with their consequences for open connections."""

    def __init__(self, accounts: AccountStore, sessions: SessionStore, tokens: TokenStore,
                 announce: Recheck) -> None:
        self.accounts = accounts
        self.sessions = sessions
        self.tokens = tokens
        self._announce = announce

    async def change_password(self, username: str, password: str, *, keep_session: str | None = None,
                              revoke_token: bool = False) -> None:
        """Set a new password and end every login but ``keep_session`` (the caller's own,
        when they changed it themselves), and the API token too if ``revoke_token``."""
        user = await self.accounts.require(username)
        await self.accounts.set_password(user.name, password)
        await self.sessions.end_all(user.name, keep=keep_session)
        if revoke_token:
            await self.tokens.revoke(user.name)
        await self._ended(user.name, PASSWORD_CHANGED)

    async def log_out(self, session_id: str) -> None:
        """End one login session and the console connections it opened."""
        username = await self.sessions.end(session_id)
        if username:
            await self._ended(username, LOGGED_OUT)

    async def new_token(self, username: str) -> str:
        """A new API token; the previous one, and what it opened, end."""
        had_one = await self.tokens.has_token(username)
        token = await self.tokens.create(username)
        if had_one:
            await self._ended(username, TOKEN_REVOKED)
        return token

    async def revoke_token(self, username: str) -> bool:
        """End the user's API token and what it opened; False when they had none."""
        if not await self.tokens.revoke(username):
            return False
        await self._ended(username, TOKEN_REVOKED)
        return True

    async def _ended(self, username: str, reason: str) -> None:
        await self._announce(AccessChange(username=username, reason=reason))
