"""The floor: bash on a PTY streamed raw over a WebSocket, with nothing else.

    .venv/bin/python bench/peer_floor.py [--port 0]

No JSON, no scrollback, no flow control: PTY bytes go to every socket as
binary messages the moment they are read (TCP_NODELAY set), and text from
a socket is written to the PTY.  What a console server costs beyond this is what its
features cost, so the benchmark shows it beside terminado as the fastest
any Tornado console server can be on this machine.

``/unique`` gives each WebSocket its own bash, hung up when the socket
closes; ``/shared`` gives every WebSocket the same bash (for fan-out).
"""
from __future__ import annotations

import fcntl
import os
import pty
import signal
import struct
import termios
from typing import Any

import tornado.ioloop
import tornado.web
import tornado.websocket
from peer_serving import run_from_command_line, serve_until_signalled

READ_SIZE = 65536
ROWS, COLS = 24, 80


class RawTerminal:
    """One bash on a PTY whose master fd is read on the IOLoop."""

    def __init__(self) -> None:
        pid, fd = pty.fork()
        if pid == 0:
            try:
                fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
                os.execvp("bash", ["bash"])
            finally:
                os._exit(127)
        self.pid = pid
        self.fd = fd
        self.sockets: set[RawSocket] = set()
        self._unwritten = b""
        self._loop = tornado.ioloop.IOLoop.current()
        os.set_blocking(fd, False)
        self._loop.add_handler(fd, self._on_events, tornado.ioloop.IOLoop.READ)

    def _on_events(self, fd: int, events: int) -> None:
        if events & tornado.ioloop.IOLoop.WRITE:
            self._flush()
        if events & (tornado.ioloop.IOLoop.READ | tornado.ioloop.IOLoop.ERROR):
            self._read()

    def _read(self) -> None:
        try:
            data = os.read(self.fd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError:  # EIO: every process on the slave side is gone
            data = b""
        if not data:
            self.hang_up()
            return
        for socket in list(self.sockets):
            try:
                socket.write_message(data, binary=True)
            except tornado.websocket.WebSocketClosedError:
                self.sockets.discard(socket)

    def write(self, data: bytes) -> None:
        """Queue keystrokes; whatever the PTY cannot take yet waits for WRITE."""
        self._unwritten += data
        self._flush()

    def _flush(self) -> None:
        if self.fd < 0:
            return
        try:
            written = os.write(self.fd, self._unwritten)
        except BlockingIOError:
            written = 0
        self._unwritten = self._unwritten[written:]
        events = tornado.ioloop.IOLoop.READ
        if self._unwritten:
            events |= tornado.ioloop.IOLoop.WRITE
        self._loop.update_handler(self.fd, events)

    def hang_up(self) -> None:
        """Close the PTY (bash gets SIGHUP) and reap bash when its pidfd says it exited."""
        if self.fd < 0:
            return
        self._loop.remove_handler(self.fd)
        os.close(self.fd)
        self.fd = -1
        try:
            os.kill(self.pid, signal.SIGHUP)
        except ProcessLookupError:
            pass
        pidfd = os.pidfd_open(self.pid)
        self._loop.add_handler(pidfd, self._on_exit, tornado.ioloop.IOLoop.READ)
        for socket in list(self.sockets):
            socket.close()

    def _on_exit(self, pidfd: int, events: int) -> None:
        self._loop.remove_handler(pidfd)
        os.close(pidfd)
        os.waitpid(self.pid, os.WNOHANG)


class Terminals:
    """Every live terminal, and the one ``/shared`` hands out."""

    def __init__(self) -> None:
        self.live: set[RawTerminal] = set()
        self.shared: RawTerminal | None = None

    def new(self) -> RawTerminal:
        self.live = {t for t in self.live if t.fd >= 0}
        terminal = RawTerminal()
        self.live.add(terminal)
        return terminal

    def common(self) -> RawTerminal:
        if self.shared is None or self.shared.fd < 0:
            self.shared = self.new()
        return self.shared

    def hang_up_all(self) -> None:
        for terminal in self.live:
            terminal.hang_up()


class RawSocket(tornado.websocket.WebSocketHandler):
    """Bytes out, text in; ``shared`` decides whether the terminal outlives the socket."""

    def initialize(self, terminals: Terminals, shared: bool) -> None:
        self.terminals = terminals
        self.shared = shared
        self.terminal: RawTerminal | None = None

    def open(self, *args: Any, **kwargs: Any) -> None:
        self.set_nodelay(True)  # no Nagle: every message leaves at once
        self.terminal = self.terminals.common() if self.shared else self.terminals.new()
        self.terminal.sockets.add(self)

    def on_message(self, message: str | bytes) -> None:
        if self.terminal is not None:
            self.terminal.write(message.encode() if isinstance(message, str) else message)

    def on_close(self) -> None:
        if self.terminal is None:
            return
        self.terminal.sockets.discard(self)
        if not self.shared:
            self.terminal.hang_up()


async def serve(port: int) -> None:
    terminals = Terminals()
    app = tornado.web.Application([
        (r"/unique", RawSocket, {"terminals": terminals, "shared": False}),
        (r"/shared", RawSocket, {"terminals": terminals, "shared": True}),
    ])
    await serve_until_signalled(app, port)
    terminals.hang_up_all()


if __name__ == "__main__":
    run_from_command_line(serve, __doc__)
