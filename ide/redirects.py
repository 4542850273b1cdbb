"""Where a redirect may go after a step elsewhere: a path on the same site, never another site."""
from __future__ import annotations

import string
from urllib.parse import quote, urlsplit


def safe_next(target: str | None) -> str:
    """``target`` if it is a path on this site, else ``/``: ``?next=`` must not
    send a user to another site.

    Browsers forgive a lot in a ``Location``: they drop tabs and newlines
    (``/<tab>/evil.example`` becomes ``//evil.example``), read a backslash
    as ``/`` and take ``https:evil.example`` as an absolute URL.  So only a string that
    starts with one ``/``, holds no control character, whitespace or
    backslash, and parses with neither scheme nor host is kept.  Other
    non-ASCII characters are percent-encoded, as a header must be ASCII.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    if any(char == "\\" or char.isspace() or ord(char) < 0x20 or ord(char) == 0x7F
           for char in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return quote(target, safe=string.punctuation)
