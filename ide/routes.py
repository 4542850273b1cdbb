"""URL patterns written once, in the OpenAPI style (``/user/{owner}/``).

The API's routes keep their template so a test can compare them with the
OpenAPI document.
"""
from __future__ import annotations

import re
from typing import Any

from tornado.routing import URLSpec

API_PREFIX = "/api/v0"
# Where a user's resources live in the API; ``{owner}`` is the user's name.
USER_API = API_PREFIX + "/user/{owner}"
_PARAM = re.compile(r"\{(\w+)\}")
# What each named parameter may match; anything else is one path segment.
_PARAM_PATTERNS = {"path": r"/.*", "pid": r"\d+"}


def pattern(template: str) -> str:
    """``/user/{owner}/x/`` → ``/user/(?P<owner>[^/]+)/x/$``."""
    pieces: list[str] = []
    position = 0
    for match in _PARAM.finditer(template):
        pieces.append(re.escape(template[position:match.start()]))
        name = match.group(1)
        pieces.append(f"(?P<{name}>{_PARAM_PATTERNS.get(name, r'[^/]+')})")
        position = match.end()
    pieces.append(re.escape(template[position:]))
    return "".join(pieces) + "$"


class Route(URLSpec):
    """A URLSpec that remembers the template it was made from."""

    def __init__(self, template: str, handler: type, kwargs: dict[str, Any]) -> None:
        super().__init__(pattern(template), handler, kwargs)
        self.template = template
