"""Users' programs that run without a terminal: web apps, tasks.

They start through the same construction as consoles
(:meth:`Sandbox.starting`: cgroups, the user's uid, PID and mount
namespaces), with stdin from ``/dev/null`` and stdout and stderr appended to
a log file.  Everything here blocks (forks, ``/proc`` scans, waits): the
callers run it off the event loop.
"""
from __future__ import annotations

import os
import signal
import stat
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import psutil

from sandbox.errors import SpawnError
from sandbox.holder import HolderUnavailable
from sandbox.identity import Identity
from sandbox.process import ExitReports
from sandbox.process_table import descendants_by_root
from sandbox.spawner import Sandbox

_POLL_STEP = 0.05


def open_log(path: Path, owner: tuple[int, int] | None) -> int:
    """``path`` opened for appending (created if missing), owned by ``owner``.

    The directory belongs to the user, who could plant a symbolic or hard
    link to a file of the host there: the last component is never followed,
    and a file with more than one name, or someone else's, is refused.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise SpawnError(f"cannot open the log {path.name}: {exc.strerror}") from None
    info = os.fstat(fd)
    if owner is not None and info.st_uid == 0 and info.st_size == 0:
        os.fchown(fd, *owner)  # just made by us
        info = os.fstat(fd)
    if (not stat.S_ISREG(info.st_mode) or info.st_nlink != 1
            or (owner is not None and info.st_uid != owner[0])):
        os.close(fd)
        raise SpawnError(f"the log {path.name} is not a plain file of yours; remove it and try again")
    return fd


class BackgroundProcess:
    """One program started without a terminal: its pid, exit, and stop.

    In an isolated sandbox ``pid`` is the ``unshare`` process holding the
    program's PID namespace, so "the tree" is exactly what lives in it.
    """

    UNKNOWN_STATUS = 255
    """The exit status of an adopted program: its parent, not us, reaped it."""

    def __init__(self, program_id: str, pid: int, isolated: bool, exits: ExitReports,
                 on_reaped: Callable[[BackgroundProcess, float], None] | None, *, held: bool = True) -> None:
        self.program_id = program_id
        # A child of the node's holder, which reports its end; else one an older server
        # started itself, known only by its pid and start time.
        self._held = held
        self._exits = exits
        self._isolated = isolated
        self._on_reaped: Callable[[BackgroundProcess, float], None] | None = on_reaped
        self.pid = pid
        self.started = _start_time(pid)
        self.exit_status: int | None = None
        self._lock = threading.Lock()  # polled from the event loop and from stop()'s thread

    def poll(self) -> int | None:
        """The shell-style exit status (128+N for a signal) once it ended, else None."""
        with self._lock:
            if self.exit_status is not None:
                return self.exit_status
            reported = self._exits.exit_of(self.program_id)
            if reported is None:
                if self._held or _start_time(self.pid) == self.started:
                    return None
                reported = (self.UNKNOWN_STATUS, 0.0)  # its status was lost with its parent
            self.exit_status, cpu = reported
            callback, self._on_reaped = self._on_reaped, None
        self._exits.release(self.program_id)
        if callback is not None:
            callback(self, cpu)
        return self.exit_status

    @classmethod
    def adopt(cls, program_id: str, pid: int, started: float, isolated: bool,
              sandbox: Sandbox) -> BackgroundProcess | None:
        """The program an earlier run of the server started, if it still runs (or ended unseen).

        The node's holder knows its children by ``program_id``, also those
        whose end no server saw.  Without it (a program of a server older
        than the holder) ``pid`` must still be the process that started at
        ``started``: a pid reused by another process never matches.  Blocking.
        """
        try:
            held = sandbox.holder.find(program_id)
        except HolderUnavailable:
            held = None
        if held is not None:
            return cls(program_id, held.pid, isolated, sandbox, None)
        if not pid or _start_time(pid) != started:
            return None
        return cls(program_id, pid, isolated, sandbox, None, held=False)

    def _signal_tree(self, signum: int) -> None:
        below = descendants_by_root([self.pid]).get(self.pid, [])
        targets: list[int | psutil.Process] = list(below)
        if not self._isolated:
            try:
                os.killpg(self.pid, signum)
            except (ProcessLookupError, PermissionError):
                pass
        if signum == signal.SIGKILL or not self._isolated:
            # unshare blocks SIGTERM while it waits; SIGKILL ends the namespace.
            targets.insert(0, self.pid)
        for target in targets:
            try:
                if isinstance(target, int):
                    os.kill(target, signum)
                else:
                    target.send_signal(signum)
            except (ProcessLookupError, PermissionError, psutil.Error):
                pass

    def terminate(self) -> None:
        """SIGTERM to every process of the program (the namespace's init ignores it)."""
        if self.poll() is None:
            self._signal_tree(signal.SIGTERM)

    def stop(self, grace: float) -> int:
        """SIGTERM to the tree, SIGKILL after ``grace`` seconds; waits for the end."""
        self.terminate()
        deadline = time.monotonic() + grace
        while self.poll() is None and time.monotonic() < deadline:
            time.sleep(_POLL_STEP)
        while self.poll() is None:
            self._signal_tree(signal.SIGKILL)
            time.sleep(_POLL_STEP)
        assert self.exit_status is not None
        return self.exit_status

    def _main(self) -> psutil.Process | None:
        # Isolated: unshare → the namespace's init shell → the program; else the program is the pid.
        try:
            if not self._isolated:
                return psutil.Process(self.pid)
            below = descendants_by_root([self.pid]).get(self.pid, [])
            return below[1] if len(below) > 1 else None
        except psutil.Error:
            return None

    def workers(self) -> set[int]:
        """The pids of the program's own children (an app server's workers)."""
        main = self._main()
        try:
            return {child.pid for child in main.children()} if main is not None else set()
        except psutil.Error:
            return set()

    def workers_ready(self, marks: Path) -> bool:
        """Whether the program has workers and each has left its mark in ``marks`` (see reload)."""
        now = self.workers()
        return bool(now) and all(_marked(marks, pid) for pid in now)

    def reload(self, timeout: float, marks: Path | None = None) -> bool:
        """SIGHUP to the program; True once its children are all new ones (or it has none).

        An app server such as gunicorn starts new workers on SIGHUP and lets
        the old ones finish what they are doing: when none of the old ones
        is left, every request is answered by the new code.  With ``marks``,
        a new worker counts only once a file named by its pid, as the
        program sees it, is in that directory: a worker is forked before it
        loads the code, and one that cannot load it never marks itself
        (False then, as the program ends or the time runs out).
        """
        main, before = self._main(), self.workers()
        if main is None:
            return False
        try:
            main.send_signal(signal.SIGHUP)
        except psutil.Error:
            return False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.poll() is None:
            now = self.workers()
            if not before or (now and not now & before and all(_marked(marks, pid) for pid in now)):
                return True
            time.sleep(_POLL_STEP)
        return False


def _marked(marks: Path | None, pid: int) -> bool:
    return marks is None or (marks / str(inner_pid(pid))).exists()


def inner_pid(pid: int) -> int:
    """``pid`` as its own PID namespace numbers it (the last of ``NSpid``); itself if it has gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("NSpid:"):
                    return int(line.split()[-1])
    except OSError:
        pass
    return pid


def start_background(sandbox: Sandbox, identity: Identity, program_id: str, argv: Sequence[str], cwd: str,
                     log_path: Path, env: Mapping[str, str] | None = None) -> BackgroundProcess:
    """Start ``argv`` as the user, stdin ``/dev/null``, output appended to ``log_path``.

    ``log_path`` is a host path; ``cwd`` and ``argv`` are as the user sees
    them.  The node's holder forks it and stays its parent, under
    ``program_id``.  Blocking.  Raises :class:`SpawnError` with a message
    for the user.
    """
    if not argv:
        raise SpawnError("nothing to run: the command is empty")
    environment = sandbox.environment(identity, env)
    log_fd = open_log(log_path, identity.owner)
    try:
        with sandbox.starting(identity, list(argv), cwd, environment) as (wrapped, setup):
            pid, _ = sandbox.start_held(identity, program_id, "background", wrapped, environment, setup,
                                        argv[0], log_fd=log_fd)
    finally:
        os.close(log_fd)
    return BackgroundProcess(program_id, pid, sandbox.isolated, sandbox, sandbox.reaped_callback(identity))


def _start_time(pid: int) -> float | None:
    try:
        process = psutil.Process(pid)
        return None if process.status() == psutil.STATUS_ZOMBIE else process.create_time()
    except psutil.Error:
        return None
