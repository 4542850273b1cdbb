"""The security headers every answer of the IDE carries.

Applied as an output transform, so that they reach everything the
application answers: pages, API answers, errors, static files, downloads of
users' files, and the console stream's own handlers (which the ``consoles``
package defines without knowing about this).
"""
from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from tornado.httputil import HTTPHeaders, HTTPServerRequest
from tornado.web import OutputTransform

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    # No inline script, no eval: a script comes from a file of this site or
    # does not run.  (A <script type="application/json"> block is data, not
    # a script, and needs no permission.)
    "script-src 'self'",
    # Style sheets are files of this site, and no markup may carry a style
    # attribute; but the terminal (xterm.js) and the editor build <style>
    # elements at run time for theme colours and cell sizes, so those are
    # allowed.  An injected <style> could still not fetch anything from
    # another site (img-src, font-src), which is what CSS exfiltration needs.
    "style-src 'self'",
    "style-src-elem 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self'",
    # 'self' covers ws: and wss: to this same host (CSP Level 3), which the
    # console stream uses.
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    # A console's /frame page is meant to be embedded, by this site only.
    "frame-ancestors 'self'",
])
HSTS = "max-age=31536000"

_ALWAYS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
}


class SecurityHeaders(OutputTransform):
    """Adds the headers to an answer's first chunk; a handler may set its own
    value of any of them first."""

    def __init__(self, request: HTTPServerRequest, strict_transport: bool = False,
                 exempt: Callable[[HTTPServerRequest], bool] | None = None) -> None:
        super().__init__(request)
        # Users' web apps answer with their own headers: the IDE's policy is not theirs.
        if exempt is not None and exempt(request):
            self.headers: dict[str, str] = {}
            return
        self.headers = dict(_ALWAYS)
        if strict_transport:
            # Whatever the scheme the proxy in front saw: a deployment with
            # secure cookies is HTTPS-only, and says so on every answer.
            self.headers["Strict-Transport-Security"] = HSTS

    def transform_first_chunk(self, status_code: int, headers: HTTPHeaders, chunk: bytes,
                              finishing: bool) -> tuple[int, HTTPHeaders, bytes]:
        for name, value in self.headers.items():
            if name not in headers:
                headers[name] = value
        return status_code, headers, chunk


def security_headers(strict_transport: bool, exempt: Callable[[HTTPServerRequest], bool] | None = None) -> Any:
    """The transform factory for ``Application(transforms=[...])``; ``exempt`` requests get none."""
    return partial(SecurityHeaders, strict_transport=strict_transport, exempt=exempt)
