"""What the supervisor is asked to keep running, and what it says about it."""
from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sandbox import Identity


class RestartPolicy(enum.StrEnum):
    ALWAYS = "always"
    """Restarted whenever it ends, with back-off while it keeps failing."""
    NEVER = "never"
    """Left ended: stopped after exit status 0, failed otherwise."""


class ProgramState(enum.StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    BACKING_OFF = "backing off"
    STOPPED = "stopped"
    FAILED = "failed"


@dataclass(frozen=True)
class Backoff:
    """Delays between restarts of a program that keeps crashing.

    A program that ran ``stable_seconds`` counts as healthy again; after
    ``max_failures`` quick failures in a row it is ``failed`` and left alone
    until someone starts it again.
    """

    first_delay: float = 1.0
    max_delay: float = 60.0
    max_failures: int = 5
    stable_seconds: float = 10.0

    def delay(self, failures: int) -> float:
        return float(min(self.max_delay, self.first_delay * 2 ** max(0, failures - 1)))


@dataclass(frozen=True)
class ProgramSpec:
    """One program: whose, what, where, and how it is kept alive.

    ``argv`` and ``cwd`` are as the user sees them; ``log`` (the program's
    own output) and ``event_log`` (the supervisor's lines about starts,
    stops and crashes) are host paths in the user's log directory.  The
    program counts as running once it has lived ``ready_seconds``, or as soon
    as ``ready_path`` (a socket it listens on) exists.
    """

    name: str
    identity: Identity
    argv: tuple[str, ...]
    cwd: str
    log: Path
    event_log: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    restart: RestartPolicy = RestartPolicy.ALWAYS
    ready_path: Path | None = None
    ready_seconds: float = 1.0
    stop_grace: float = 5.0
    rotate_logs: tuple[Path, ...] = ()
    """Logs rotated (``supervisor/logs.py``) before each start."""
    reloads_on_hangup: bool = False
    """SIGHUP reloads it in place (an app server); otherwise a reload is a restart."""
    worker_marks: Path | None = None
    """Where each worker of an app server leaves a file named by its pid (as the program sees
    it) once it is ready: a reload is done when every new worker has left one."""
    backoff: Backoff = Backoff()


@dataclass(frozen=True)
class ProgramStatus:
    """What the supervisor knows about a program right now."""

    name: str
    state: ProgramState
    pid: int | None = None
    exit_status: int | None = None
    last_error: str = ""
    starts: int = 0
    """How many times it was started since the supervisor took it on (restarts = starts - 1)."""
    started: float | None = None
    """When the process now running started (epoch seconds); None when none runs."""

    @property
    def running(self) -> bool:
        return self.state == ProgramState.RUNNING
