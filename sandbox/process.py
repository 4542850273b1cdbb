"""A user's program on a PTY, as the server sees it: descriptor, signals, exit."""
from __future__ import annotations

import fcntl
import os
import signal
import struct
import termios
from collections.abc import Callable
from typing import Protocol

ReapedCallback = Callable[["SandboxedProcess", float], None]
"""Called once with the process and the CPU seconds it and its reaped children used."""


class ExitReports(Protocol):
    """Where a program's exit is learnt: the node's holder, its parent (sandbox/holder/)."""

    def exit_of(self, program_id: str) -> tuple[int, float] | None: ...

    def release(self, program_id: str) -> None: ...


class SandboxedProcess:
    """A user's program on a PTY: its master, its signals, its exit.

    The program is a child of the node's holder, not of this process, so it
    outlives a restart of the server; the holder reports its exit status.
    Nothing here sleeps or waits.

    In an isolated sandbox ``pid`` is the ``unshare`` process holding the
    console's PID namespace: killing it (or closing the master fd) ends every
    process the console started, ``setsid``/``nohup`` ones included.
    """

    UNKNOWN_STATUS = 255
    """The status of a program whose holder went away before reporting it."""

    def __init__(self, program_id: str, pid: int, fd: int, exits: ExitReports,
                 on_reaped: ReapedCallback | None = None) -> None:
        self.program_id = program_id
        self.pid = pid
        self.fd = fd
        self.exit_status: int | None = None
        self._exits = exits
        self._on_reaped = on_reaped

    def write(self, data: bytes) -> int:
        """Write to the PTY without blocking; returns the bytes taken."""
        try:
            return os.write(self.fd, data)
        except BlockingIOError:
            return 0

    def set_size(self, rows: int, cols: int) -> None:
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def size(self) -> tuple[int, int]:
        """(rows, cols) the terminal has now."""
        rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(self.fd, termios.TIOCGWINSZ, b"\0" * 8))
        return rows, cols

    def kill(self) -> None:
        """Send SIGKILL to the whole process group; returns at once."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            os.kill(self.pid, signal.SIGKILL)  # in case it left its group
        except (ProcessLookupError, PermissionError):
            pass

    def hangup(self) -> None:
        """Deliver SIGHUP to the group, as a closing terminal would."""
        try:
            os.killpg(self.pid, signal.SIGHUP)
        except (ProcessLookupError, PermissionError):
            pass

    def poll(self) -> int | None:
        """The shell-style exit status (128+N for signals) once the holder reported it."""
        if self.exit_status is not None:
            return self.exit_status
        reported = self._exits.exit_of(self.program_id)
        if reported is None:
            return None
        self._finish(*reported)
        return self.exit_status

    def _finish(self, exit_status: int, cpu_seconds: float) -> None:
        self.exit_status = exit_status
        if self._on_reaped is not None:
            callback, self._on_reaped = self._on_reaped, None
            callback(self, cpu_seconds)

    def release(self) -> None:
        """Close our master once the exit is known; the holder forgets the program."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        self._exits.release(self.program_id)

    def detach(self) -> None:
        """Close our master and leave the program running (the server stops; the holder keeps it)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
