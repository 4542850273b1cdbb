"""URL patterns written once, in the OpenAPI style (``/user/{owner}/``).

The API's routes keep their template so a test can compare them with the
OpenAPI document.
"""
from __future__ import annotations

import re
from typing import Any

from tornado.routing import URLSpec

from consoles.registry import CONSOLE_ID_PATTERN

API_PREFIX = "/api/v0"
# Where a user's resources live in the API; ``{owner}`` is the user's name.
USER_API = API_PREFIX + "/user/{owner}"
_PARAM = re.compile(r"\{(\w+)\}")
# What each named parameter may match; anything else is one path segment.
_PARAM_PATTERNS = {"path": r"/.*", "pid": r"\d+", "console_id": CONSOLE_ID_PATTERN}


def pattern(template: str, optional_slash: bool = False) -> str:
    """``/user/{owner}/x/`` → ``/user/(?P<owner>[^/]+)/x/$``.

    With ``optional_slash``, a template's final ``/`` may be left out
    (``/x/?$``), as PythonAnywhere's API allows and its clients rely on.
    """
    pieces: list[str] = []
    position = 0
    for match in _PARAM.finditer(template):
        pieces.append(re.escape(template[position:match.start()]))
        name = match.group(1)
        pieces.append(f"(?P<{name}>{_PARAM_PATTERNS.get(name, r'[^/]+')})")
        position = match.end()
    tail = template[position:]
    if optional_slash and tail.endswith("/"):
        return "".join(pieces) + re.escape(tail[:-1]) + "/?$"
    return "".join(pieces) + re.escape(tail) + "$"


class Route(URLSpec):
    """A URLSpec that remembers the template it was made from.

    API routes answer with and without their trailing slash; pages keep the
    one URL they have.
    """

    def __init__(self, template: str, handler: type, kwargs: dict[str, Any]) -> None:
        super().__init__(pattern(template, optional_slash=template.startswith("/api/")),
                         handler, kwargs)
        self.template = template
