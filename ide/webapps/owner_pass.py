"""The signed hand-off that lets a web app's owner see its tracebacks on the app's own domain.

The apps' domains are other origins than the IDE's: the IDE's session
cookie never goes there, and must not.  Instead, the owner, logged in to
the IDE, is sent back to the app's domain with a *pass*: a token that
names the purpose, the domain, the owner and an expiry one minute ahead,
signed with HMAC-SHA256 under a key derived from the server's cookie secret
(which the apps never see).  The front redeems a pass once (its nonce is
spent in Redis) and only on the domain it names, for the app's current
owner, and answers with an *owner cookie*: the same kind of token with
another purpose and an hour's life, HttpOnly, without a ``Domain``
attribute (so the browser sends it to that one host only).  A pass is no
cookie and a cookie no pass, since the purpose is signed too.

Token: ``base64url(JSON {"p", "d", "u", "e", "n"}) "." hex(HMAC)``.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

import redis.asyncio as aioredis
from tornado.httputil import HTTPHeaders
from tornado.web import RequestHandler

from consoles.keys import webapp_pass_key
from ide.redirects import safe_next

SIGN_IN_PATH = "/_ide/owner-sign-in"
"""The one path of every app's domain the front keeps for itself: where a pass is redeemed."""
COOKIE_NAME = "ide_app_owner"
PASS_SECONDS = 60
COOKIE_SECONDS = 3600
_PASS, _COOKIE = "pass", "cookie"


class OwnerPasses:
    def __init__(self, cookie_secret: str, redis: aioredis.Redis) -> None:
        self._key = hmac.new(cookie_secret.encode(), b"ide-webapp-owner-pass v1", hashlib.sha256).digest()
        self._redis = redis

    def issue(self, domain: str, user: str, now: float | None = None) -> str:
        """A pass for ``user`` to become the owner on ``domain`` (the caller checked they own it)."""
        return self._sign(_PASS, domain, user, (now if now is not None else time.time()) + PASS_SECONDS)

    async def redeem(self, token: str, domain: str, owner: str) -> str | None:
        """The owner cookie for a valid, unspent pass naming this domain and its owner; else None."""
        claim = self._verify(token, _PASS, domain, owner)
        if claim is None:
            return None
        if not await self._redis.set(webapp_pass_key(claim["n"]), "1", nx=True, ex=PASS_SECONDS * 2):
            return None  # spent already
        return self._sign(_COOKIE, domain, owner, time.time() + COOKIE_SECONDS)

    def is_owner(self, cookie: str | None, domain: str, owner: str) -> bool:
        """Whether the request's owner cookie proves it comes from ``owner`` of ``domain``."""
        return bool(cookie) and self._verify(cookie or "", _COOKIE, domain, owner) is not None

    def _sign(self, purpose: str, domain: str, user: str, expiry: float) -> str:
        claim = {"p": purpose, "d": domain, "u": user, "e": int(expiry), "n": secrets.token_hex(16)}
        body = base64.urlsafe_b64encode(json.dumps(claim, separators=(",", ":")).encode()).decode().rstrip("=")
        return f"{body}.{self._mac(body)}"

    def _mac(self, body: str) -> str:
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()

    def _verify(self, token: str, purpose: str, domain: str, user: str) -> dict[str, Any] | None:
        body, _, mac = token.partition(".")
        if not body or not hmac.compare_digest(mac.encode(), self._mac(body).encode()):
            return None
        try:
            claim = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except (binascii.Error, ValueError):
            return None
        if not isinstance(claim, dict) or not isinstance(claim.get("e"), int) or not isinstance(claim.get("n"), str):
            return None
        if claim.get("p") != purpose or claim.get("d") != domain or claim.get("u") != user:
            return None
        return claim if claim["e"] > time.time() else None


_REFUSED = """<!doctype html>
<html><head><meta charset="utf-8"><title>This sign-in link does not work</title></head>
<body><h1>This sign-in link does not work</h1>
<p>It has expired, was used already, or is for another site. Open the error page again and sign in from there.</p>
</body></html>
"""


async def owner_sign_in(handler: RequestHandler, passes: OwnerPasses, domain: str, owner: str) -> None:
    """``SIGN_IN_PATH`` on an app's domain: redeem the pass into the owner cookie, then go on."""
    cookie = await passes.redeem(handler.get_query_argument("token", ""), domain, owner)
    handler.set_header("Cache-Control", "no-store")
    if cookie is None:
        handler.set_status(403)
        handler.set_header("Content-Type", "text/html; charset=UTF-8")
        handler.finish(_REFUSED)
        return
    # No Domain attribute: the browser sends it back to this host only.
    handler.set_cookie(COOKIE_NAME, cookie, path="/", httponly=True, samesite="Lax", max_age=COOKIE_SECONDS,
                       secure=handler.request.protocol == "https")
    handler.redirect(safe_next(handler.get_query_argument("next", "/")))


def without_owner_cookie(headers: HTTPHeaders) -> HTTPHeaders:
    """The request's headers for the app, without the owner cookie: it is the front's, not the app's."""
    cookies = [part for value in headers.get_list("Cookie") for part in value.split(";")
               if part.strip() and part.strip().partition("=")[0] != COOKIE_NAME]
    if "Cookie" in headers:
        del headers["Cookie"]
    if cookies:
        headers["Cookie"] = ";".join(cookies).strip()
    return headers
