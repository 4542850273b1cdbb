"""A visitor's ``Upgrade`` (a WebSocket) passes through to the app.

After the front's checks (the app exists, is enabled, the password), the
visitor's connection is taken from Tornado (``RequestHandler.detach``) and
joined to a new connection on the app's socket: the request's head goes
first, with the same ``X-Forwarded-*`` headers as any request, then bytes
flow both ways as they come, until either side closes.  The app answers the
upgrade itself (101, or a refusal); the front neither reads nor frames what
passes.  An app that is not listening gets a plain 502.
"""
from __future__ import annotations

import asyncio
import contextlib
import socket
from pathlib import Path

from tornado.httputil import HTTPHeaders
from tornado.iostream import IOStream, StreamClosedError

_CHUNK = 64 * 1024
_BAD_GATEWAY = (b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                b"Content-Length: 28\r\n\r\nThe web app did not answer.\n")


def wants_upgrade(headers: HTTPHeaders) -> bool:
    tokens = {token.strip().lower() for token in headers.get("Connection", "").split(",")}
    return "upgrade" in tokens and bool(headers.get("Upgrade"))


def request_head(method: str, uri: str, headers: HTTPHeaders, upgrade: str) -> bytes:
    lines = [f"{method} {uri} HTTP/1.1"]
    lines += [f"{name}: {value}" for name, value in headers.get_all()]
    lines += ["Connection: Upgrade", f"Upgrade: {upgrade}", "", ""]
    return "\r\n".join(lines).encode("latin-1")


async def tunnel(visitor: IOStream, socket_path: Path, head: bytes) -> None:
    """Join ``visitor`` to a new connection on the app's socket until either side closes."""
    app = IOStream(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
    try:
        await app.connect(str(socket_path))
        await app.write(head)
    except (OSError, StreamClosedError):
        app.close()
        with contextlib.suppress(StreamClosedError):
            await visitor.write(_BAD_GATEWAY)
        visitor.close()
        return
    await asyncio.gather(_pump(visitor, app), _pump(app, visitor))


async def _pump(source: IOStream, target: IOStream) -> None:
    try:
        while True:
            data = await source.read_bytes(_CHUNK, partial=True)
            await target.write(data)  # waits while the other side does not read: backpressure
    except StreamClosedError:
        pass
    finally:
        target.close()
        source.close()
