"""Static file mappings, served by the front itself (they never reach the app).

The same rules as the files API: the path must stay in the owner's home
(no ``..``, no encoded traversal, no symbolic link leading out), and a file
is served only if the owner's uid owns it.  Conditional requests (ETag,
If-Modified-Since) and single byte ranges are answered.  A small file
served in the last second is served again from memory (``RecentFiles``).
"""
from __future__ import annotations

import asyncio
import email.utils
import mimetypes
import os
import re
import time
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote

import tornado.web

from ide.files import home_io
from ide.files.errors import FilesError
from ide.files.paths import PathResolver
from ide.webapps.store import StaticMapping
from sandbox import Identity

_CHUNK = 256 * 1024
RECHECK = 1.0
"""Seconds a small file, once checked and read, is served again as it was."""
RECENT_BYTES = 32 * 1024 * 1024
"""Memory for those files, the least recently used leaving first."""
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def find_mapping(mappings: Sequence[StaticMapping], path: str) -> tuple[StaticMapping, str] | None:
    """The mapping with the longest URL prefix of ``path``, and the rest of the path after it."""
    best: tuple[StaticMapping, str] | None = None
    for mapping in mappings:
        prefix = mapping.url if mapping.url.endswith("/") else mapping.url + "/"
        if path == mapping.url.rstrip("/") or path.startswith(prefix):
            if best is None or len(mapping.url) > len(best[0].url):
                best = (mapping, path[len(prefix):] if path.startswith(prefix) else "")
    return best


class _Headers(NamedTuple):
    etag: str
    modified: str
    kind: str


def _headers(info: os.stat_result, name: str) -> _Headers:
    kind, encoding = mimetypes.guess_type(name)
    return _Headers(f'"{info.st_size:x}-{info.st_mtime_ns:x}"', email.utils.formatdate(info.st_mtime, usegmt=True),
                    "application/octet-stream" if encoding else kind or "application/octet-stream")


class _Checked:
    """A small file read just now, after every check passed: its status, headers and bytes."""

    __slots__ = ("info", "headers", "content", "checked")

    def __init__(self, info: os.stat_result, headers: _Headers, content: bytes) -> None:
        self.info = info
        self.headers = headers
        self.content = content
        self.checked = time.monotonic()


class RecentFiles:
    """Small files served within the last ``RECHECK`` seconds, answered again without a trip to
    a thread.  Only bytes that passed the checks are kept, so a file replaced meanwhile (even by
    a link out of the home) is served as it was when checked, never its new target; a change
    shows after at most ``RECHECK`` seconds, as with nginx's ``open_file_cache_valid``."""

    def __init__(self, budget: int = RECENT_BYTES) -> None:
        self._files: OrderedDict[tuple[str, str], _Checked] = OrderedDict()
        self._budget = budget
        self._used = 0

    def get(self, key: tuple[str, str]) -> _Checked | None:
        found = self._files.get(key)
        if found is None:
            return None
        if time.monotonic() - found.checked >= RECHECK:
            self._remove(key)
            return None
        return found

    def put(self, key: tuple[str, str], info: os.stat_result, headers: _Headers, content: bytes) -> None:
        self._remove(key)
        self._files[key] = _Checked(info, headers, content)
        self._used += len(content)
        while self._used > self._budget:
            self._remove(next(iter(self._files)))

    def _remove(self, key: tuple[str, str]) -> None:
        gone = self._files.pop(key, None)
        if gone is not None:
            self._used -= len(gone.content)


_RECENT = RecentFiles()


def _open(resolver: PathResolver, visible: str, uid: int | None) -> tuple[int | None, os.stat_result, bytes]:
    """The open file (None when read whole, and closed), its status and its first chunk:
    a small file costs one trip to a thread."""
    located = PathResolver.real(resolver.parse(visible))
    fd, info = home_io.open_file(located, uid)
    try:
        first = os.pread(fd, _CHUNK, 0)
    except OSError:
        os.close(fd)
        raise
    if len(first) >= info.st_size:
        os.close(fd)
        return None, info, first
    return fd, info, first


async def serve_static(handler: tornado.web.RequestHandler, identity: Identity, homes_dir: Path,
                       mapping: StaticMapping, rest: str) -> None:
    """Answer from the mapped file: 404 for anything missing, escaping or not the owner's."""
    visible = mapping.path.rstrip("/") + "/" + unquote(rest) if rest else mapping.path
    key = (identity.username, visible)
    recent = _RECENT.get(key)
    if recent is not None:
        await _send(handler, None, recent.info, recent.headers, recent.content)
        return
    resolver = PathResolver(homes_dir, identity.username, ())
    try:
        fd, info, first = await asyncio.to_thread(_open, resolver, visible, identity.uid)
    except (FilesError, OSError):
        raise tornado.web.HTTPError(404) from None
    headers = _headers(info, visible)
    if fd is None:
        _RECENT.put(key, info, headers, first)
    try:
        await _send(handler, fd, info, headers, first)
    finally:
        if fd is not None:
            os.close(fd)


async def _send(handler: tornado.web.RequestHandler, fd: int | None, info: os.stat_result, headers: _Headers,
                first: bytes) -> None:
    handler.set_header("ETag", headers.etag)
    handler.set_header("Last-Modified", headers.modified)
    handler.set_header("Accept-Ranges", "bytes")
    if _not_modified(handler, headers.etag, info.st_mtime):
        handler.set_status(304)
        handler.finish()
        return
    handler.set_header("Content-Type", headers.kind)
    start, end = 0, info.st_size
    wanted = handler.request.headers.get("Range")
    if wanted is not None:
        span = _range(wanted, info.st_size)
        if span is None:
            handler.set_status(416)
            handler.set_header("Content-Range", f"bytes */{info.st_size}")
            handler.finish()
            return
        start, end = span
        handler.set_status(206)
        handler.set_header("Content-Range", f"bytes {start}-{end - 1}/{info.st_size}")
    handler.set_header("Content-Length", str(end - start))
    if handler.request.method == "HEAD":
        handler.finish()
        return
    position = start
    if position < len(first):
        chunk = first[position:end]
        handler.write(chunk)
        position += len(chunk)
    while position < end and fd is not None:
        await handler.flush()
        chunk = await asyncio.to_thread(os.pread, fd, min(_CHUNK, end - position), position)
        if not chunk:
            break
        handler.write(chunk)
        position += len(chunk)
    handler.finish()


def _not_modified(handler: tornado.web.RequestHandler, etag: str, mtime: float) -> bool:
    match = handler.request.headers.get("If-None-Match")
    if match is not None:
        return match.strip() == "*" or etag in [tag.strip() for tag in match.split(",")]
    since = handler.request.headers.get("If-Modified-Since")
    if since is not None:
        try:
            parsed = email.utils.parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
        return int(mtime) <= parsed.timestamp()
    return False


def _range(header: str, size: int) -> tuple[int, int] | None:
    """One byte range as [start, end), or None when it cannot be satisfied (multiple ranges: the first)."""
    match = _RANGE.fullmatch(header.split(",")[0].strip())
    if match is None:
        return None
    first, last = match.groups()
    if first:
        start = int(first)
        end = min(int(last) + 1, size) if last else size
    elif last:
        start, end = max(0, size - int(last)), size
    else:
        return None
    return (start, end) if start < end else None
