"""The one way in: a request's session cookie or API token becomes a caller.

Pages, the API and the console stream all ask :class:`Authenticator`, so a
credential is parsed, checked and ended by the same rules everywhere.  A
caller carries the credential it came with (``session:<id>`` or
``token:<digest>``): live console connections remember it, and when it
ends (logout, a password change, a revoked token) the connections it opened
are found and closed (see ``ide.credentials``).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tornado.web import decode_signed_value

from ide.sessions import SessionStore
from ide.tokens import TokenStore

SESSION_COOKIE = "ide_session"
# Tornado's own default for signed cookies; the cookie itself lives 30 days.
COOKIE_MAX_AGE_DAYS = 31
_SESSION = "session:"
_TOKEN = "token:"


class InvalidToken(Exception):
    """An ``Authorization`` header that names no valid token (the API answers 401)."""

    def __init__(self) -> None:
        super().__init__("Invalid token.")


@dataclass(frozen=True)
class Caller:
    """Who is asking, and the credential that proves it."""

    username: str
    credential: str

    @property
    def session_id(self) -> str | None:
        """The login session's id, when the caller came with the session cookie."""
        return self.credential[len(_SESSION):] if self.credential.startswith(_SESSION) else None


class Authenticator:
    """Turns cookies and an ``Authorization`` header into a :class:`Caller`, and tells whether
    a credential seen earlier still holds."""

    def __init__(self, sessions: SessionStore, tokens: TokenStore, cookie_secret: str) -> None:
        self.sessions = sessions
        self.tokens = tokens
        self.cookie_secret = cookie_secret

    async def caller(self, cookies: Mapping[str, str], authorization: str | None) -> Caller | None:
        """The caller, or None when no credential was given.

        With an ``Authorization`` header only the token counts (a cookie sent
        alongside is ignored), which is what lets the API skip XSRF checks for
        it; a header that is not a valid token raises :class:`InvalidToken`.
        """
        if authorization is not None:
            return await self._from_token(authorization)
        session_id = self.session_id(cookies)
        if session_id is None:
            return None
        username = await self.sessions.lookup(session_id)
        return Caller(username, _SESSION + session_id) if username else None

    def session_id(self, cookies: Mapping[str, str]) -> str | None:
        """The session id inside a correctly signed session cookie."""
        cookie = cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        value = decode_signed_value(self.cookie_secret, SESSION_COOKIE, cookie,
                                    max_age_days=COOKIE_MAX_AGE_DAYS)
        return value.decode() if value else None

    async def _from_token(self, authorization: str) -> Caller:
        scheme, _, token = authorization.partition(" ")
        if scheme != "Token":
            raise InvalidToken()
        digest = TokenStore.digest(token.strip())
        username = await self.tokens.owner(digest)
        if username is None:
            raise InvalidToken()
        return Caller(username, _TOKEN + digest)

    async def still_valid(self, username: str, credential: str) -> bool:
        """Whether ``credential`` (from a :class:`Caller`) still proves it is ``username``."""
        if credential.startswith(_SESSION):
            return await self.sessions.lookup(credential[len(_SESSION):]) == username
        if credential.startswith(_TOKEN):
            return await self.tokens.owner(credential[len(_TOKEN):]) == username
        return False
