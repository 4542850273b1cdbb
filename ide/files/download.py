"""Sending a user's file to a client, for the API and the pages alike.

Users' files are never trusted as pages: the type never says HTML, the
browser is told not to sniff (a header every handler sets) and the
content-security policy sandboxes anything it might still render, so a
student's ``.html`` cannot run script as their teacher.
"""
from __future__ import annotations

import asyncio
import os
from urllib.parse import quote

import tornado.web

from ide.files.content import download_type
from ide.files.store import Download

_CHUNK = 1 << 20


async def send_download(handler: tornado.web.RequestHandler, download: Download,
                        attachment: bool) -> None:
    """Write the file as the response: small files whole (with their ETag), big ones streamed."""
    handler.set_header("Content-Type", download_type(download.name))
    handler.set_header("Content-Security-Policy", "sandbox; default-src 'none'")
    handler.set_header("Cache-Control", "no-store")
    if attachment:
        handler.set_header("Content-Disposition", f"attachment; filename*=UTF-8''{quote(download.name)}")
    if download.data is not None:
        if download.etag:
            handler.set_header("ETag", download.etag)
        handler.finish(download.data)
        return
    assert download.fd is not None
    try:
        while chunk := await asyncio.to_thread(os.read, download.fd, _CHUNK):
            handler.write(chunk)
            await handler.flush()
    finally:
        os.close(download.fd)
    handler.finish()
