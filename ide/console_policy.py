"""Who may attach to a console, and how: the policy ide hands to consoles."""
from __future__ import annotations

from tornado.web import decode_signed_value

from consoles import Access, AttachRequest
from ide.services import Services
from ide.web.base import SESSION_COOKIE


class ConsoleAccessPolicy:
    """Decides attach requests from the session cookie or an API token.

    Owners attach read-write; everybody else is refused (sharing extends
    this with read-only and read-write grants).
    """

    def __init__(self, services: Services, cookie_secret: str) -> None:
        self.services = services
        self.cookie_secret = cookie_secret

    async def caller(self, request: AttachRequest) -> str | None:
        header = request.headers.get("Authorization")
        if header is not None:
            scheme, _, token = header.partition(" ")
            return await self.services.tokens.lookup(token.strip()) if scheme == "Token" else None
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        session_id = decode_signed_value(self.cookie_secret, SESSION_COOKIE, cookie, max_age_days=31)
        return await self.services.sessions.lookup(session_id.decode()) if session_id else None

    async def authorize(self, request: AttachRequest) -> Access | None:
        username = await self.caller(request)
        return await self.access_for(username, request.console_id) if username else None

    async def access_for(self, username: str, console_id: str) -> Access | None:
        """How ``username`` may use a console, or None; pages ask this too."""
        record = await self.services.consoles.record(console_id)
        if record is None:
            return None
        if record.owner == username:
            return Access(username=username, readonly=False)
        return None
