"""The blocking work the supervisor does on its own threads: starting a program,
checking whether starting ones are ready, appending to its event log."""
from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

from sandbox import Identity, Sandbox, SpawnError
from sandbox.background import BackgroundProcess, open_log, start_background
from supervisor.logs import rotate
from supervisor.spec import ProgramSpec

log = logging.getLogger(__name__)


def start_fresh(sandbox: Sandbox, spec: ProgramSpec) -> BackgroundProcess:
    """Rotate the program's logs, clear its readiness marker, start it."""
    for path in spec.rotate_logs:
        try:
            rotate(path, spec.identity.owner)
        except OSError as exc:
            log.warning("could not rotate %s: %s", path, exc)
    # A ready_path left by an earlier run would make this one look ready at once.
    if spec.ready_path is not None:
        try:
            os.unlink(spec.ready_path)
        except FileNotFoundError:
            pass
    return start_background(sandbox, spec.identity, spec.name, spec.argv, spec.cwd, spec.log, spec.env)


def ready_checks(checks: list[tuple[Path | None, float, float, Callable[[], bool] | None]]) -> list[bool]:
    """For each (ready path, start time, seconds, workers ready): the socket there takes
    connections, or the program has run that long; and, when asked, its workers are ready
    (an app server's workers have loaded the app: one that cannot never is)."""
    now = time.monotonic()
    return [(_listening(path) if path is not None else now - started >= seconds)
            and (workers_ready is None or workers_ready())
            for path, started, seconds, workers_ready in checks]


def _listening(path: Path) -> bool:
    """A Unix socket exists from its ``bind`` but refuses connections until ``listen``: a
    visitor sent to it in between would get a 502 from an app that is starting fine."""
    if not os.path.exists(path):
        return False
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        probe.close()


def append_line(path: Path, identity: Identity, line: str) -> None:
    """One line in the program's event log (a log that is not the user's plain file is skipped)."""
    try:
        fd = open_log(path, identity.owner)
    except SpawnError as exc:
        log.warning("cannot write %s: %s", path, exc)
        return
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
