"""Answers for requests no route serves: unknown URLs and bodies over the cap.

Each comes in two shapes, an HTML page and, for every URL under ``/api/``,
a JSON ``{"detail"}``: API clients never get a page meant for a browser.
None of them checks the XSRF token (they change nothing, and a refusal
about ``_xsrf`` would hide the real answer) or reads a body.
"""
from __future__ import annotations

import tornado.httputil
import tornado.web

from ide.web.base import ApiHandler, PageHandler

MiB = 1024 * 1024
BODY_LIMIT = 2 * MiB
"""The most any request body may be before its handler has authenticated the
caller (upload handlers raise it for themselves once they know who is asking).
Room for the largest console message (1 MiB of text), which SockJS's
``xhr_send`` JSON-encodes twice."""

NOT_FOUND = "There is no page at this address."
NO_ENDPOINT = "There is no API endpoint at this address."


def body_too_large(declared: int) -> str:
    return (f"The request body is {declared} bytes; this address accepts at most "
            f"{BODY_LIMIT} bytes. Nothing was read.")


class _Refusal:
    """Raises its status in ``prepare``, before any body is read."""

    status = 404
    message = NOT_FOUND
    request: tornado.httputil.HTTPServerRequest  # given by the RequestHandler it is mixed into

    def check_xsrf_cookie(self) -> None:
        return None

    async def prepare(self) -> None:
        raise tornado.web.HTTPError(self.status, self.message)


class NotFoundPage(_Refusal, PageHandler):
    pass


class NotFoundApi(_Refusal, ApiHandler):
    message = NO_ENDPOINT


class _TooLarge(_Refusal):
    """For a request whose ``Content-Length`` is over :data:`BODY_LIMIT`.

    Streaming, so that it answers as soon as the headers are in; the server
    then closes the connection rather than read the body.
    """

    status = 413

    async def prepare(self) -> None:
        declared = int(self.request.headers["Content-Length"])
        raise tornado.web.HTTPError(413, body_too_large(declared))


@tornado.web.stream_request_body
class BodyTooLargePage(_TooLarge, PageHandler):
    pass


@tornado.web.stream_request_body
class BodyTooLargeApi(_TooLarge, ApiHandler):
    pass


def is_api(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")
