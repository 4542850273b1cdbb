"""A spawned PTY process that can be killed and reaped without blocking."""
from __future__ import annotations

import fcntl
import io
import os
import signal
import struct
import termios
import threading
from collections.abc import Callable, Mapping, Sequence

from ptyprocess import PtyProcess

ReapedCallback = Callable[["SandboxedProcess", float], None]
"""Called once with the process and the CPU seconds it and its reaped children used."""


class UnbufferedPty(PtyProcess):
    """ptyprocess's PTY without its buffered file object.

    Consoles read and write the master fd directly; the ``BufferedRWPair``
    that ``PtyProcess`` builds holds two 8 KiB buffers, a third of what an
    idle console costs.  The attributes are those ``PtyProcess.__init__``
    sets; ``fileobj`` is the raw fd, closed (with the fd) by ``close()``.
    """

    _made = threading.local()

    @classmethod
    def start(cls, argv: Sequence[str], *, env: Mapping[str, str], dimensions: tuple[int, int],
              preexec_fn: Callable[[], None]) -> UnbufferedPty:
        """``spawn`` in ``/``, reaping the child at once when it fails before its exec.

        ptyprocess raises the child's error inside ``spawn``, whose frame and
        that error form a reference cycle: the half-made object, and with it
        the dead child, would wait for the garbage collector as a zombie.
        """
        cls._made.instance = None
        try:
            return cls.spawn(list(argv), cwd="/", env=dict(env), dimensions=dimensions,
                             preexec_fn=preexec_fn)
        except BaseException:
            made: UnbufferedPty | None = cls._made.instance
            if made is not None:
                made.closed = made.terminated = True  # nothing left for its __del__ to do
                made.fileobj.close()
                try:
                    os.kill(made.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                os.waitpid(made.pid, 0)
            raise
        finally:
            cls._made.instance = None

    def __init__(self, pid: int, fd: int) -> None:
        self.pid = pid
        self.fd = fd
        self.fileobj = io.FileIO(fd, "r+b", closefd=True)
        self.terminated = False
        self.closed = False
        self.exitstatus: int | None = None
        self.signalstatus: int | None = None
        self.status: int | None = None
        self.flag_eof = False
        self.delayafterclose = 0.1
        self.delayafterterminate = 0.1
        UnbufferedPty._made.instance = self


class SandboxedProcess:
    """A user's program on a PTY.

    Wraps :class:`ptyprocess.PtyProcess` but never calls its ``close()`` or
    ``terminate()``: those sleep in 0.1 s steps, which would stall every other
    console sharing the event loop.  The master fd stays owned by the
    ``PtyProcess`` object (closing it ourselves would let its ``__del__`` close
    a number that may by then belong to another console).

    In an isolated sandbox ``pid`` is the ``unshare`` process holding the
    console's PID namespace: killing it (or closing the master fd) ends every
    process the console started, ``setsid``/``nohup`` ones included.
    """

    def __init__(self, pty: PtyProcess, on_reaped: ReapedCallback | None = None) -> None:
        self._pty = pty
        self._on_reaped = on_reaped
        self.pid: int = pty.pid
        self.fd: int = pty.fd
        self.exit_status: int | None = None

    def write(self, data: bytes) -> int:
        """Write to the PTY without blocking; returns the bytes taken."""
        try:
            return os.write(self.fd, data)
        except BlockingIOError:
            return 0

    def set_size(self, rows: int, cols: int) -> None:
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

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
        """Reap the child if it has ended; shell-style status (128+N for signals)."""
        if self.exit_status is not None:
            return self.exit_status
        try:
            pid, status, usage = os.wait4(self.pid, os.WNOHANG)
        except ChildProcessError:
            self._finish(-1, 0.0)
            return self.exit_status
        if pid == 0:
            return None
        code = os.waitstatus_to_exitcode(status)
        self._finish(128 - code if code < 0 else code, usage.ru_utime + usage.ru_stime)
        return self.exit_status

    def _finish(self, exit_status: int, cpu_seconds: float) -> None:
        self.exit_status = exit_status
        self._pty.terminated = True
        self._pty.exitstatus = exit_status
        if self._on_reaped is not None:
            callback, self._on_reaped = self._on_reaped, None
            callback(self, cpu_seconds)

    def release(self) -> None:
        """Close the master fd once the process is reaped (no sleeping)."""
        if not self._pty.closed:
            # ptyprocess.close() sleeps only when the child is alive; it has
            # been reaped (terminated=True), so this closes the fd and returns.
            self._pty.fileobj.close()
            self._pty.fd = -1
            self._pty.closed = True
