"""What a file's bytes are to the editor and to a browser: text or not, which
language, which interpreter its hashbang names, which version the editor holds."""
from __future__ import annotations

import hashlib
import mimetypes
import os
import re
from dataclasses import dataclass

EDITOR_LIMIT = 5 * 1024 * 1024
"""Files above this open as a download offer, not in the editor."""
SNIFF_BYTES = 8192
"""A NUL byte in this much of the start marks a file as binary."""

_PYTHON_PROGRAM = re.compile(r"python(\d+(\.\d+)*)?")
_TEXT_TYPES = {"application/json", "application/javascript", "application/xml", "application/x-sh",
               "application/toml", "application/x-yaml", "application/yaml", "application/sql",
               "image/svg+xml"}
# Types a browser shows without running anything; everything else downloads as bytes.
_PASSIVE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"}


def etag_of(data: bytes) -> str:
    """A strong HTTP entity tag for exactly these bytes (quotes included)."""
    return f'"{hashlib.sha256(data).hexdigest()}"'


def etag_matches(if_match: str, etag: str | None) -> bool:
    """Whether an ``If-Match`` header value names ``etag`` (None: the file does not exist).

    Accepts a comma-separated list, ``*``, weak ``W/`` tags and bare
    (unquoted) tags, so a client that stripped the quotes still works.
    """
    if etag is None:
        return False
    wanted = etag.strip('"')
    for candidate in if_match.split(","):
        candidate = candidate.strip()
        if candidate == "*":
            return True
        if candidate.removeprefix("W/").strip('"') == wanted:
            return True
    return False


@dataclass(frozen=True)
class EditorText:
    """A file as the editor receives it.

    ``content`` is None when the file is ``too_big`` or ``binary``; ``lossy``
    says invalid UTF-8 was replaced (U+FFFD), so saving would change those bytes.
    """

    content: str | None
    etag: str | None
    size: int
    lossy: bool = False
    too_big: bool = False
    binary: bool = False


def editor_text(data: bytes | None, size: int) -> EditorText:
    """Classify a file's bytes for the editor; ``data`` is None when it was too big to read."""
    if data is None or size > EDITOR_LIMIT:
        return EditorText(None, None, size, too_big=True)
    etag = etag_of(data)
    if b"\0" in data[:SNIFF_BYTES]:
        return EditorText(None, etag, size, binary=True)
    try:
        return EditorText(data.decode("utf-8"), etag, size)
    except UnicodeDecodeError:
        return EditorText(data.decode("utf-8", errors="replace"), etag, size, lossy=True)


def python_hashbang(text: str | None) -> str | None:
    """The interpreter a ``#!`` first line names, when it is a Python.

    ``#!/usr/bin/env python3.11`` gives ``python3.11`` (looked up on PATH like
    env would); ``#!/usr/bin/python3`` gives ``/usr/bin/python3``.
    """
    if not text or not text.startswith("#!"):
        return None
    words = text[2:].split("\n", 1)[0].split()
    if not words:
        return None
    program = words[0]
    if os.path.basename(program) == "env":
        # Skip env's own options (-S, -u NAME is rare enough to ignore) and VAR=value settings.
        rest = [word for word in words[1:] if not word.startswith("-") and "=" not in word]
        if not rest:
            return None
        program = rest[0]
    return program if _PYTHON_PROGRAM.fullmatch(os.path.basename(program)) else None


def language_of(name: str, text: str | None) -> str:
    """"python" for .py/.pyw files and Python hashbang scripts, else "text"."""
    if name.endswith((".py", ".pyw")) or python_hashbang(text):
        return "python"
    return "text"


def _guessed_type(name: str) -> str | None:
    return mimetypes.guess_type(name, strict=False)[0]


def opens_in_editor(name: str) -> bool:
    """Whether a listing should link the name to the editor (text) or to a download.

    Judged by the name alone, so listing a directory reads no file; the editor
    still offers a download when a file turns out to be binary.
    """
    guessed = _guessed_type(name)
    return guessed is None or guessed.startswith("text/") or guessed in _TEXT_TYPES


def download_type(name: str) -> str:
    """A Content-Type for a user's file that a browser will never run as a page.

    Text of any kind is ``text/plain`` (never HTML, never ``application/json``,
    which API clients take for a directory listing); a few image types keep
    theirs; the rest is ``application/octet-stream``.
    """
    guessed = _guessed_type(name)
    if guessed in _PASSIVE_TYPES:
        return guessed
    if opens_in_editor(name):
        return "text/plain; charset=utf-8"
    return "application/octet-stream"
