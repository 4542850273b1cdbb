"""The server's side of the holder: start it if needed, ask it to start programs, hear their exits.

Usable from any thread: requests are sent one at a time under a lock, and
a reader thread takes the answers and the holder's exit reports (which
arrive at any time, also while no request waits).  The reader keeps the
exit statuses until the program is released, so polling one never blocks.
"""
from __future__ import annotations

import contextlib
import logging
import os
import queue
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.holder import protocol

log = logging.getLogger(__name__)

_ANSWER_TIMEOUT = 60.0
_START_TIMEOUT = 30.0
_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent.parent)


Answer = list[tuple[protocol.Message, list[int]]]
"""A request's answer: its parts (several for a listing), each with its descriptors."""


class HolderUnavailable(Exception):
    """The node's holder could not be reached or started."""


@dataclass
class HeldProgram:
    """A program the holder keeps, as a server finds it when it starts."""

    id: str
    kind: str
    pid: int
    meta: dict[str, Any]
    exit_status: int | None
    cpu: float
    master: int  # our own descriptor of its PTY master, or -1


class HolderClient:
    """The connection to the holder whose socket lives in ``directory`` (made 0700)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory.absolute()  # the holder runs in "/"
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._answers: queue.Queue[tuple[protocol.Message, list[int]] | None] = queue.Queue()
        self._exits: dict[str, tuple[int, float]] = {}
        self._requests = 0
        self.holder_pid = 0
        self.version = 0

    # -- connection -------------------------------------------------------------------

    def _connect_if_needed(self) -> None:
        """Connect (starting the holder, or upgrading an older one) unless connected.  Caller holds the lock."""
        if self._sock is not None:
            return
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.directory.chmod(0o700)
        self._listen_to(self._connect() or self._start_and_connect())
        if self.version < protocol.VERSION:
            self._upgrade_locked()

    def _connect(self) -> socket.socket | None:
        directory_fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            sock.connect(protocol.socket_path(directory_fd))
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            return None
        finally:
            os.close(directory_fd)
        return sock

    def _start_and_connect(self) -> socket.socket:
        ready_read, ready_write = os.pipe()
        try:
            with open(self.directory / "holder.log", "ab") as holder_log:
                subprocess.run([sys.executable, "-m", "sandbox.holder.daemon", str(self.directory),
                                str(ready_write)], pass_fds=(ready_write,), stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=holder_log, cwd="/", env=holder_environment(),
                               start_new_session=True, check=True, timeout=_START_TIMEOUT)
            os.close(ready_write)
            ready_write = -1
            said = _read_until_closed(ready_read, _START_TIMEOUT)
        except (OSError, subprocess.SubprocessError) as exc:
            raise HolderUnavailable(f"the node's program holder could not start: {exc}") from None
        finally:
            os.close(ready_read)
            if ready_write >= 0:
                os.close(ready_write)
        if said not in (b"ready", b"another holder runs"):
            raise HolderUnavailable("the node's program holder did not start; see "
                                    f"{self.directory / 'holder.log'}")
        sock = self._connect()
        if sock is None:
            raise HolderUnavailable("the node's program holder started but does not answer")
        return sock

    def _upgrade_locked(self) -> None:
        """Have an older holder re-execute itself from this code, then talk to the new one."""
        old_version = self.version
        self._ask_locked({"op": "upgrade", "env": holder_environment(),
                          "argv": [sys.executable, "-m", "sandbox.holder.daemon", str(self.directory)]})
        self._disconnect_locked()
        deadline = time.monotonic() + _START_TIMEOUT
        while True:
            sock = self._connect()
            if sock is not None:
                break
            if time.monotonic() > deadline:
                raise HolderUnavailable("the node's program holder did not come back from its upgrade")
            time.sleep(0.02)
        self._listen_to(sock)
        log.warning("the node's program holder was upgraded from protocol %s to %s", old_version, self.version)

    def _listen_to(self, sock: socket.socket) -> None:
        """Use ``sock`` from now on, with a reader and a queue of answers of its own (what a
        reader of an earlier connection still delivers cannot be taken for an answer here),
        and learn the holder's pid and protocol version."""
        self._sock = sock
        self._answers = queue.Queue()
        threading.Thread(target=self._read, args=(sock, self._answers), name="holder-reader",
                         daemon=True).start()
        hello = self._ask_locked({"op": "hello"})[0][0]
        self.holder_pid, self.version = int(hello["pid"]), int(hello["version"])

    def _disconnect_locked(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
            self._sock.close()
            self._sock = None

    def _read(self, sock: socket.socket, answers: queue.Queue[tuple[protocol.Message, list[int]] | None]) -> None:
        while True:
            try:
                received = protocol.receive(sock)
            except (OSError, protocol.ProtocolError):
                received = None
            if received is None:
                answers.put(None)
                return
            message, fds = received
            if message.get("event") == "exited":
                self._exits[str(message["id"])] = (int(message["exit_status"]), float(message["cpu"]))
                continue
            answers.put((message, fds))

    # -- requests ---------------------------------------------------------------------

    def _ask_locked(self, message: protocol.Message, fds: Sequence[int] = ()) -> Answer:
        """Send one request; its answer (several parts for a listing).  Caller holds the lock."""
        assert self._sock is not None
        self._requests += 1
        request = self._requests
        try:
            protocol.send(self._sock, {**message, "request": request}, fds)
        except OSError as exc:
            self._disconnect_locked()
            raise HolderUnavailable(f"the node's program holder went away: {exc}") from None
        parts = []
        deadline = time.monotonic() + _ANSWER_TIMEOUT
        while True:
            try:
                answer = self._answers.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self._disconnect_locked()
                raise HolderUnavailable("the node's program holder did not answer") from None
            if answer is None:
                self._disconnect_locked()
                raise HolderUnavailable("the node's program holder went away")
            reply, reply_fds = answer
            if reply.get("reply") != request:
                for fd in reply_fds:
                    os.close(fd)
                continue
            parts.append((reply, reply_fds))
            if not reply.get("more"):
                return parts

    def ask(self, message: protocol.Message, fds: Sequence[int] = ()) -> Answer:
        with self._lock:
            for attempt in (1, 2):
                self._connect_if_needed()
                try:
                    return self._ask_locked(message, fds)
                except HolderUnavailable:
                    if attempt == 2 or message.get("op") == "spawn":
                        raise
            raise AssertionError("unreachable")

    def spawn(self, program_id: str, kind: str, argv: Sequence[str], env: dict[str, str], setup: dict[str, Any],
              program: str, meta: dict[str, Any], rows: int = 24, cols: int = 80,
              log_fd: int | None = None) -> tuple[int, int]:
        """Start a program; (pid, master descriptor or -1).  Raises :class:`ChildRefused`."""
        self._exits.pop(program_id, None)
        reply, fds = self.ask({"op": "spawn", "id": program_id, "kind": kind, "argv": list(argv), "env": env,
                               "setup": setup, "program": program, "meta": meta, "rows": rows, "cols": cols},
                              [log_fd] if log_fd is not None else [])[0]
        if "error" in reply:
            raise ChildRefused(str(reply["error"]))
        return int(reply["pid"]), fds[0] if fds else -1

    def held(self) -> list[HeldProgram]:
        """Every program the holder keeps, each with our own duplicate of its master."""
        programs = []
        for reply, fds in self.ask({"op": "list"}):
            masters = iter(fds)
            for entry in reply["programs"]:
                master = next(masters) if entry["has_master"] else -1
                if entry["exit_status"] is not None:
                    self._exits[entry["id"]] = (int(entry["exit_status"]), float(entry["cpu"]))
                programs.append(HeldProgram(entry["id"], entry["kind"], int(entry["pid"]), dict(entry["meta"]),
                                            entry["exit_status"], float(entry["cpu"]), master))
        return programs

    def find(self, program_id: str) -> HeldProgram | None:
        """The program the holder keeps under this id (without its master), if any."""
        entry = self.ask({"op": "find", "id": program_id})[0][0]["program"]
        if entry is None:
            return None
        if entry["exit_status"] is not None:
            self._exits[entry["id"]] = (int(entry["exit_status"]), float(entry["cpu"]))
        return HeldProgram(entry["id"], entry["kind"], int(entry["pid"]), dict(entry["meta"]),
                           entry["exit_status"], float(entry["cpu"]), -1)

    def exit_of(self, program_id: str) -> tuple[int, float] | None:
        """(exit status, CPU seconds) once the program has ended; never blocks."""
        return self._exits.get(program_id)

    def release(self, program_id: str) -> None:
        """The server has taken note of the program's end: the holder forgets it."""
        self.ask({"op": "release", "id": program_id})
        self._exits.pop(program_id, None)

    def stop_all(self, grace: float) -> int:
        """End every program of the node (SIGTERM, SIGKILL after ``grace``); how many ran."""
        return int(self.ask({"op": "stop_all", "grace": grace})[0][0]["stopped"])

    def close(self, quit_if_empty: bool) -> bool:
        """Disconnect; with ``quit_if_empty`` the holder also exits if it keeps no program."""
        with self._lock:
            if self._sock is None:
                return False
            quitting = False
            if quit_if_empty:
                with contextlib.suppress(HolderUnavailable):
                    quitting = bool(self._ask_locked({"op": "quit", "if_empty": True})[0][0]["quitting"])
            self._disconnect_locked()
            return quitting


class ChildRefused(Exception):
    """The holder could not start the program; the message is for its user."""


def holder_environment() -> dict[str, str]:
    """What the holder runs with: this code importable, nothing of the server's own settings."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": _PACKAGE_ROOT, "LANG": "C.UTF-8"}


def _read_until_closed(fd: int, timeout: float) -> bytes:
    deadline = time.monotonic() + timeout
    data = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(fd, 256)
        if not chunk:
            break
        data += chunk
    return data
