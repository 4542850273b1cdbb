"""How a server and its node's holder talk: one JSON object per datagram.

The socket is a ``SOCK_SEQPACKET`` Unix socket, so each message arrives
whole and alone, and file descriptors (PTY masters, log files) travel with
it as ``SCM_RIGHTS``.  The holder is meant to run for months across server
upgrades: every message names its operation, unknown fields are ignored,
and ``VERSION`` only changes when a message changes meaning.  A server that
meets an older holder asks it to re-execute itself from the server's own
code (``upgrade``), keeping its children and descriptors (docs/architecture.md,
"Restarts").
"""
from __future__ import annotations

import json
import os
import socket
from collections.abc import Sequence
from typing import Any

VERSION = 1
"""The protocol this code speaks.  History: 1, the first."""

MAX_MESSAGE = 4 * 1024 * 1024
"""Bytes in one message; a listing of a node's programs stays far below."""

MAX_FDS = 200
"""Descriptors in one message (the kernel allows 253); longer listings come in parts."""

Message = dict[str, Any]


class ProtocolError(Exception):
    """The other side sent something that is not a message of this protocol."""


def send(sock: socket.socket, message: Message, fds: Sequence[int] = ()) -> None:
    data = json.dumps(message, separators=(",", ":")).encode()
    if len(data) > MAX_MESSAGE:
        raise ProtocolError(f"a message of {len(data)} bytes is too long")
    if len(fds) > MAX_FDS:
        raise ProtocolError(f"{len(fds)} descriptors do not fit in one message")
    if fds:
        socket.send_fds(sock, [data], list(fds))
    else:
        sock.send(data)


def receive(sock: socket.socket) -> tuple[Message, list[int]] | None:
    """The next message and its descriptors (close-on-exec), or None once the peer hung up."""
    data, fds, flags, _ = socket.recv_fds(sock, MAX_MESSAGE, MAX_FDS, socket.MSG_CMSG_CLOEXEC)
    if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
        for fd in fds:
            _close(fd)
        raise ProtocolError("a message was cut short")
    if not data:
        for fd in fds:
            _close(fd)
        return None
    try:
        message = json.loads(data)
    except ValueError:
        message = None
    if not isinstance(message, dict):
        for fd in fds:
            _close(fd)
        raise ProtocolError("a message is not a JSON object")
    return message, list(fds)


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def socket_path(directory_fd: int) -> str:
    """The holder's socket named through a descriptor of its directory.

    A Unix socket's path is limited to 107 bytes and data directories (a
    test's temporary one, an operator's) can be longer; the kernel resolves
    ``/proc/self/fd/N/`` to the directory itself.
    """
    return f"/proc/self/fd/{directory_fd}/holder.sock"
