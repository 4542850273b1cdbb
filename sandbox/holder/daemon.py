"""The node's holder: the long-lived parent of every user program of the node.

``ide serve`` restarts (upgrades, crashes); users' programs must not end
with it.  So the server does not fork them itself: it asks this small
process, which forks them from its small address space, keeps a duplicate
of each PTY master, reaps each exit and keeps its status until the server
has taken note.  A server that starts again connects, receives every
program with its descriptor, and carries on.  There is no application logic
here, so the holder rarely needs replacing; when the protocol changes it
re-executes itself from the new code, keeping its children and descriptors
(``upgrade``).

Single-threaded, one select loop: forks happen from a process with no
other threads, and nothing here waits for a program except ``stop_all``.
Run as ``python -m sandbox.holder.daemon DIRECTORY`` (the client does).
"""
from __future__ import annotations

import contextlib
import ctypes
import fcntl
import functools
import json
import os
import selectors
import signal
import socket
import struct
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from sandbox.holder import protocol
from sandbox.holder.children import ChildError, start_background, start_on_pty

_PR_SET_CHILD_SUBREAPER = 36
STATE_VARIABLE = "IDE_HOLDER_STATE"
"""How a holder hands its programs to the code it re-executes as (an upgrade)."""
_STOP_STEP = 0.05
IDLE_EXIT = 300.0
"""Seconds with no server connected and no program running after which the holder exits:
nothing is left to keep but exit statuses nobody came for."""


@dataclass
class Program:
    """One program the holder started: what the server needs to take it back."""

    id: str
    kind: str  # "pty" or "background"
    pid: int
    meta: dict[str, Any]
    master: int = -1  # the holder's duplicate of the PTY master; -1 for background programs
    exit_status: int | None = None
    cpu: float = 0.0

    def listing(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "pid": self.pid, "meta": self.meta,
                "exit_status": self.exit_status, "cpu": self.cpu, "has_master": self.master >= 0}


class Holder:
    """Serves the node's server (and ``ide serve --stop-all``) over ``listener``."""

    def __init__(self, listener: socket.socket, lock_fd: int, programs: dict[str, Program]) -> None:
        self._listener = listener
        self._lock_fd = lock_fd  # held for as long as this process (and what it re-executes as) lives
        self._programs = programs
        self._clients: set[socket.socket] = set()
        self._selector = selectors.DefaultSelector()
        self._wakeup_read, wakeup_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wakeup_write)
        self._stopping = False
        self._quit = False

    def run(self) -> None:
        for signum in (signal.SIGCHLD, signal.SIGTERM):
            signal.signal(signum, self._note_signal)
        for signum in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
            signal.signal(signum, signal.SIG_IGN)  # a closing terminal or Ctrl-C of the server's shell
        self._selector.register(self._listener, selectors.EVENT_READ, self._accept)
        self._selector.register(self._wakeup_read, selectors.EVENT_READ, self._drain_wakeups)
        self._reap()  # children that ended before this process (or this code) took over
        idle_since: float | None = None
        while not self._quit:
            for key, _ in self._selector.select(timeout=IDLE_EXIT if idle_since is not None else None):
                key.data()
            if self._stopping:
                self._stop_all(grace=10.0)
                self._quit = True
            idle = not self._clients and all(p.exit_status is not None for p in self._programs.values())
            if not idle:
                idle_since = None
            elif idle_since is None:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since >= IDLE_EXIT:
                self._quit = True

    def _note_signal(self, signum: int, frame: object) -> None:
        if signum == signal.SIGTERM:
            self._stopping = True  # the holder's own stop ends every program, as --stop-all does

    def _drain_wakeups(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self._wakeup_read, 512):
                pass
        self._reap()

    # -- children ----------------------------------------------------------------

    def _reap(self) -> None:
        by_pid = {program.pid: program for program in self._programs.values() if program.exit_status is None}
        while True:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            program = by_pid.get(pid)
            if program is None:
                continue  # an orphan the kernel handed to this subreaper
            code = os.waitstatus_to_exitcode(status)
            program.exit_status = 128 - code if code < 0 else code
            program.cpu = usage.ru_utime + usage.ru_stime
            self._tell_all({"event": "exited", "id": program.id, "exit_status": program.exit_status,
                        "cpu": program.cpu})

    # -- the connections ---------------------------------------------------------------

    def _accept(self) -> None:
        try:
            connection, _ = self._listener.accept()
        except BlockingIOError:
            return
        uid = struct.unpack("3i", connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[1]
        if uid != os.getuid():
            connection.close()
            return
        # Usually one: the node's server (during an upgrade also the next one, or `--stop-all`).
        self._clients.add(connection)
        self._selector.register(connection, selectors.EVENT_READ, functools.partial(self._serve, connection))

    def _drop(self, client: socket.socket) -> None:
        if client in self._clients:
            self._clients.discard(client)
            self._selector.unregister(client)
            client.close()

    def _send(self, client: socket.socket, message: protocol.Message, fds: list[int] | None = None) -> None:
        try:
            protocol.send(client, message, fds or [])
        except OSError:
            self._drop(client)

    def _tell_all(self, event: protocol.Message) -> None:
        for client in list(self._clients):
            self._send(client, event)

    def _serve(self, client: socket.socket) -> None:
        try:
            received = protocol.receive(client)
        except (OSError, protocol.ProtocolError):
            received = None
        if received is None:
            self._drop(client)
            return
        message, fds = received
        try:
            self._handle(client, message, fds)
        except Exception as exc:  # a malformed request must never end the parent of every program
            print(f"holder: {message.get('op')!r} failed: {exc!r}", file=sys.stderr, flush=True)
            self._send(client, {"reply": message.get("request"), "error": f"the holder could not do that: {exc}"})
        finally:
            for fd in fds:
                with contextlib.suppress(OSError):
                    os.close(fd)

    def _handle(self, client: socket.socket, message: protocol.Message, fds: list[int]) -> None:
        operation = message.get("op")
        reply: protocol.Message = {"reply": message.get("request")}
        if operation == "hello":
            reply.update(version=protocol.VERSION, pid=os.getpid())
        elif operation == "spawn":
            reply.update(self._spawn(message, fds))
            master = reply.pop("master", -1)
            self._send(client, reply, [master] if master >= 0 else [])
            return
        elif operation == "list":
            for part, masters in self._list():
                self._send(client, {**reply, **part}, masters)
            return
        elif operation == "find":
            program = self._programs.get(str(message.get("id")))
            reply.update(program=program.listing() if program is not None else None)
        elif operation == "release":
            program = self._programs.pop(str(message.get("id")), None)
            if program is not None and program.master >= 0:
                os.close(program.master)
        elif operation == "stop_all":
            reply.update(stopped=self._stop_all(float(message.get("grace", 10.0))))
        elif operation == "quit":
            self._quit = not self._programs or not bool(message.get("if_empty", True))
            reply.update(quitting=self._quit)
        elif operation == "upgrade":
            self._send(client, {**reply, "upgrading": True})
            self._upgrade([str(part) for part in message["argv"]],
                          {str(k): str(v) for k, v in message["env"].items()})
            return
        else:
            reply.update(error=f"unknown operation {operation!r}")
        self._send(client, reply)

    def _spawn(self, message: protocol.Message, fds: list[int]) -> protocol.Message:
        program_id = str(message["id"])
        earlier = self._programs.get(program_id)
        if earlier is not None and earlier.exit_status is None:
            return {"error": f"a program {program_id} is already running"}
        if earlier is not None and earlier.master >= 0:
            os.close(earlier.master)  # it ended while no server listened; its next run replaces it
        try:
            program_name = str(message.get("program", message["argv"][0]))
            if message["kind"] == "pty":
                pid, master = start_on_pty(message["argv"], message["env"], message["setup"],
                                           int(message["rows"]), int(message["cols"]), program_name)
            else:
                pid = start_background(message["argv"], message["env"], message["setup"], fds[0], program_name)
                master = -1
        except ChildError as exc:
            return {"error": str(exc)}
        self._programs[program_id] = Program(program_id, str(message["kind"]), pid,
                                             dict(message.get("meta", {})), master)
        return {"pid": pid, "master": master}

    def _list(self) -> Iterator[tuple[protocol.Message, list[int]]]:
        """Every program with its master, in parts of at most ``MAX_FDS`` descriptors."""
        programs = list(self._programs.values())
        for start in range(0, max(len(programs), 1), protocol.MAX_FDS):
            part = programs[start:start + protocol.MAX_FDS]
            yield ({"programs": [program.listing() for program in part],
                    "more": start + protocol.MAX_FDS < len(programs)},
                   [program.master for program in part if program.master >= 0])

    def _stop_all(self, grace: float) -> int:
        """SIGTERM to every running program's process group, SIGKILL after ``grace``."""
        running = [program for program in self._programs.values() if program.exit_status is None]
        for program in running:
            _signal_program(program.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while any(program.exit_status is None for program in running):
            if time.monotonic() > deadline:
                for program in running:
                    if program.exit_status is None:
                        _signal_program(program.pid, signal.SIGKILL)
            time.sleep(_STOP_STEP)
            self._reap()
        for program in list(self._programs.values()):
            if program.master >= 0:
                os.close(program.master)
        self._programs.clear()
        return len(running)

    def _upgrade(self, argv: list[str], env: dict[str, str]) -> None:
        """Become the holder of ``argv`` (newer code), keeping children, masters and the socket."""
        for client in list(self._clients):
            self._drop(client)
        signal.set_wakeup_fd(-1)
        keep = [self._listener.fileno(), self._lock_fd] + [p.master for p in self._programs.values() if p.master >= 0]
        for fd in keep:
            os.set_inheritable(fd, True)
        state = {"listener": self._listener.fileno(), "lock": self._lock_fd, "version": protocol.VERSION,
                 "programs": [asdict(program) for program in self._programs.values()]}
        try:
            os.execve(argv[0], argv, {**env, STATE_VARIABLE: json.dumps(state)})
        except OSError as exc:
            print(f"holder: the upgrade to {argv} failed: {exc}; going on as before", file=sys.stderr)
            for fd in keep:
                os.set_inheritable(fd, False)
            signal.set_wakeup_fd(os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)[1])


def _signal_program(pid: int, signum: int) -> None:
    for send in (os.killpg, os.kill):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            send(pid, signum)


def _lock(directory_fd: int) -> int | None:
    """A descriptor holding the directory's lock, or None while another holder has it."""
    fd = os.open("holder.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600, dir_fd=directory_fd)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _listen(directory_fd: int) -> socket.socket:
    path = protocol.socket_path(directory_fd)
    with contextlib.suppress(FileNotFoundError):
        os.unlink("holder.sock", dir_fd=directory_fd)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    old_mask = os.umask(0o177)
    try:
        listener.bind(path)
    finally:
        os.umask(old_mask)
    listener.listen(8)
    listener.setblocking(False)
    return listener


def _inherited_state() -> tuple[socket.socket, int, dict[str, Program]] | None:
    raw = os.environ.pop(STATE_VARIABLE, None)
    if raw is None:
        return None
    state = json.loads(raw)
    listener = socket.socket(fileno=int(state["listener"]))
    listener.setblocking(False)
    programs = {entry["id"]: Program(**entry) for entry in state["programs"]}
    lock_fd = int(state["lock"])
    for fd in [listener.fileno(), lock_fd] + [p.master for p in programs.values() if p.master >= 0]:
        os.set_inheritable(fd, False)
    return listener, lock_fd, programs


def main(arguments: list[str]) -> int:
    """``DIRECTORY READY_FD``: detach, take the directory's lock, listen, say so on READY_FD."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    inherited = _inherited_state()
    if inherited is not None:  # an upgrade: lock, socket and masters came with the state
        Holder(*inherited).run()
        return 0
    directory, ready_fd = arguments[0], int(arguments[1])
    if os.fork() != 0:
        os._exit(0)  # the holder is nobody's child but init's: the server may come and go
    directory_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    lock_fd = _lock(directory_fd)
    if lock_fd is None:
        _report_ready(ready_fd, "another holder runs")
        return 0
    listener = _listen(directory_fd)
    os.close(directory_fd)
    _report_ready(ready_fd, "ready")
    Holder(listener, lock_fd, {}).run()
    return 0


def _report_ready(fd: int, text: str) -> None:
    with contextlib.suppress(OSError):
        os.write(fd, text.encode())
    os.close(fd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
