"""Starting a program in the holder: on a new PTY, or detached with its output in a log.

The set-up (cgroups, namespaces, giving up root, the working directory)
arrives as data and runs in the child between fork and exec
(:class:`sandbox.child_setup.ChildSetup`).  A refusal there comes back as a
:class:`ChildError` with a message a user can act on.
"""
from __future__ import annotations

import contextlib
import io
import os
import signal
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ptyprocess import PtyProcess

from sandbox.child_setup import ChildSetup

# The holder ignores these (a closing terminal, Ctrl-C in the shell that started the
# server); an ignored signal stays ignored across exec, so programs get them back.
_RESTORED_SIGNALS = (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE, signal.SIGXFSZ, signal.SIGQUIT, signal.SIGTSTP,
                     signal.SIGTTIN, signal.SIGTTOU)


class UnbufferedPty(PtyProcess):
    """ptyprocess's PTY without its buffered file object.

    The holder only needs the master's descriptor; the ``BufferedRWPair``
    that ``PtyProcess`` builds would hold two 8 KiB buffers per console.
    The attributes are those ``PtyProcess.__init__`` sets; ``fileobj`` is
    the raw fd, closed (with the fd) by ``close()``.
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


class ChildError(Exception):
    """The program could not be started; the message is for its user."""


def _child_setup(description: dict[str, Any]) -> Callable[[], None]:
    setup = ChildSetup.from_description(description)

    def prepare() -> None:
        for signum in _RESTORED_SIGNALS:
            signal.signal(signum, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        setup()
    return prepare


def start_on_pty(argv: Sequence[str], env: Mapping[str, str], setup: dict[str, Any], rows: int, cols: int,
                 program: str) -> tuple[int, int]:
    """Start ``argv`` as a session leader on a new PTY; returns (pid, master)."""
    try:
        pty = UnbufferedPty.start(argv, env=env, dimensions=(rows, cols), preexec_fn=_child_setup(setup))
    except FileNotFoundError:
        raise ChildError(f"{program}: command not found") from None
    except RuntimeError as exc:  # ChildSetup's refusals, re-raised by ptyprocess by class name
        raise ChildError(str(exc)) from None
    except OSError as exc:
        raise ChildError(f"could not start {program}: {exc}") from None
    master = os.dup(pty.fd)  # the holder's own descriptor; ptyprocess's object is let go
    pty.closed = pty.terminated = True
    pty.fileobj.close()
    return pty.pid, master


def start_background(argv: Sequence[str], env: Mapping[str, str], setup: dict[str, Any], log_fd: int,
                     program: str) -> int:
    """Start ``argv`` in a new session, stdin ``/dev/null``, output to ``log_fd``; returns the pid."""
    prepare = _child_setup(setup)
    report_read, report_write = os.pipe()  # close-on-exec: end-of-file says the exec happened
    devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child only makes system calls, then execs
        try:
            os.setsid()
            os.dup2(devnull, 0)
            os.dup2(log_fd, 1)
            os.dup2(log_fd, 2)
            os.closerange(3, report_write)
            os.closerange(report_write + 1, os.sysconf("SC_OPEN_MAX"))
            prepare()
            os.execvpe(argv[0], list(argv), dict(env))
        except FileNotFoundError:
            reason = f"{program}: command not found"
        except RuntimeError as exc:
            reason = str(exc)
        except OSError as exc:
            reason = f"could not start {program}: {exc.strerror}"
        except BaseException as exc:
            reason = f"could not start {program}: {exc}"
        with contextlib.suppress(BaseException):
            os.write(report_write, reason.encode()[:4000])
        os._exit(127)
    os.close(report_write)
    os.close(devnull)
    try:
        refusal = _read_all(report_read)
    finally:
        os.close(report_read)
    if refusal:
        os.waitpid(pid, 0)
        raise ChildError(refusal.decode(errors="replace"))
    return pid


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(fd, 4096)
        except InterruptedError:
            continue
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
