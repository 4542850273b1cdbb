"""HTTP clients for tests: one logged in through the real login form, one
with an API token."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode

from tornado.httpclient import AsyncHTTPClient, HTTPResponse


class Response:
    def __init__(self, raw: HTTPResponse) -> None:
        self.raw = raw
        self.status = raw.code
        self.headers = raw.headers
        self.body = raw.body or b""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    """Keeps cookies like a browser; sends the XSRF header on API writes."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url = base_url
        self.token = token
        self.cookies: dict[str, str] = {}
        self.http = AsyncHTTPClient()

    async def request(self, method: str, path: str, body: Any = None, *, form: dict[str, str] | None = None,
                      headers: dict[str, str] | None = None, xsrf: bool = True,
                      raw_body: bytes | None = None) -> Response:
        all_headers = dict(headers or {})
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if self.token:
            all_headers.setdefault("Authorization", f"Token {self.token}")
        payload: bytes | None = raw_body
        if form is not None:
            if xsrf and "_xsrf" in self.cookies:
                form = {"_xsrf": self.cookies["_xsrf"], **form}
            payload = urlencode(form).encode()
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            payload = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        if xsrf and method not in ("GET", "HEAD") and "_xsrf" in self.cookies:
            all_headers.setdefault("X-XSRFToken", self.cookies["_xsrf"])
        if payload is None and method in ("POST", "PUT", "PATCH"):
            payload = b""
        raw = await self.http.fetch(self.base_url + path, method=method, body=payload,
                                    headers=all_headers, follow_redirects=False, raise_error=False,
                                    request_timeout=60)
        for header in raw.headers.get_list("Set-Cookie"):
            cookie = SimpleCookie(header)
            for key, morsel in cookie.items():
                expires = morsel["expires"]
                if morsel.value == "" or (expires and parsedate_to_datetime(expires) < datetime.now(UTC)):
                    self.cookies.pop(key, None)
                else:
                    self.cookies[key] = morsel.value
        return Response(raw)

    async def get(self, path: str, **kw: Any) -> Response:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, body: Any = None, **kw: Any) -> Response:
        return await self.request("POST", path, body, **kw)

    async def put(self, path: str, body: Any = None, **kw: Any) -> Response:
        return await self.request("PUT", path, body, **kw)

    async def patch(self, path: str, body: Any = None, **kw: Any) -> Response:
        return await self.request("PATCH", path, body, **kw)

    async def delete(self, path: str, **kw: Any) -> Response:
        return await self.request("DELETE", path, **kw)

    async def login(self, username: str, password: str = "correct horse") -> Response:
        await self.get("/login/")
        response = await self.post("/login/", form={"username": username, "password": password})
        if response.status != 302:
            raise AssertionError(f"login of {username} failed with {response.status}: {response.text[:300]}")
        return response

    @staticmethod
    def xsrf_field(html: str) -> str:
        match = re.search(r'name="_xsrf" value="([^"]+)"', html)
        assert match, "the page has no XSRF field"
        return match.group(1)
