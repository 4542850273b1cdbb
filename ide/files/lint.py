"""pyflakes for the editor, in a pool of worker processes.

Checking is CPU work on code anyone can send, so it never runs on the event
loop or even in the server's process: a worker process checks, bounded in
input size and in time.  The worker enforces the time limit itself with a
timer signal (pyflakes is pure Python, so the signal interrupts it); the
server also stops waiting a little later in case a worker is stuck anyway.
"""
from __future__ import annotations

import asyncio
import io
import signal
from typing import Any

from pyflakes import api as pyflakes_api
from pyflakes.reporter import Reporter

from consoles.worker_pool import WorkerDied, WorkerPool
from ide.files.errors import LintUnavailable, TooLarge

MAX_CODE_BYTES = 512 * 1024
TIMEOUT_SECONDS = 5.0
_GRACE_SECONDS = 20.0
"""How much longer the server waits than the worker's own limit: room for starting
a worker on a busy machine; only a worker stuck outside Python code needs it."""
WORKERS = 2

Problem = dict[str, Any]


class _OutOfTime(BaseException):
    """Not an Exception: pyflakes catches those while parsing and would report it as a problem."""


class _Collector(Reporter):
    """A pyflakes reporter that keeps problems as the API's objects (it writes nothing)."""

    def __init__(self) -> None:
        super().__init__(io.StringIO(), io.StringIO())
        self.problems: list[Problem] = []

    def unexpectedError(self, filename: str, message: str) -> None:  # noqa: N802 (pyflakes' name)
        self.problems.append({"line": 1, "col": 0, "message": str(message), "severity": "error"})

    def syntaxError(self, filename: str, message: str, line: int | None, offset: int | None,  # noqa: N802
                    text: str | None) -> None:
        # SyntaxError offsets are 1-based; the API's columns are 0-based like pyflakes' own.
        self.problems.append({"line": max(line or 1, 1), "col": max((offset or 1) - 1, 0),
                              "message": str(message), "severity": "error"})

    def flake(self, message: Any) -> None:
        self.problems.append({"line": message.lineno, "col": message.col,
                              "message": message.message % message.message_args,
                              "severity": "warning"})


def _raise_out_of_time(signum: int, frame: Any) -> None:
    raise _OutOfTime()


def check_code(code: str, timeout: float = TIMEOUT_SECONDS) -> list[Problem]:
    """pyflakes' findings for ``code``; runs in a worker process (its main thread)."""
    collector = _Collector()
    previous = signal.signal(signal.SIGALRM, _raise_out_of_time)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        pyflakes_api.check(code, "<editor>", collector)
    except _OutOfTime:
        raise LintUnavailable(f"Checking this code took longer than {timeout:g} s; "
                              "it was stopped.") from None
    except RecursionError:
        raise LintUnavailable("This code is nested too deeply to be checked.") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return sorted(collector.problems, key=lambda p: (p["line"], p["col"]))


class Linter:
    """Checks code in worker processes started on first use (spawned, not
    forked: the server has threads, and a fork would copy their locks)."""

    def __init__(self, workers: int = WORKERS, timeout: float = TIMEOUT_SECONDS,
                 max_bytes: int = MAX_CODE_BYTES) -> None:
        self.workers = workers
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._workers = WorkerPool(workers)

    def check_size(self, code: str) -> None:
        size = len(code.encode("utf-8", errors="surrogatepass"))
        if size > self.max_bytes:
            raise TooLarge(f"The code is {size // 1024} KB; only up to {self.max_bytes // 1024} KB "
                           "is checked. Split the file into modules.")

    async def lint(self, code: str) -> list[Problem]:
        """pyflakes' problems as ``[{"line", "col", "message", "severity"}]``."""
        self.check_size(code)
        try:
            return await asyncio.wait_for(self._workers.run(check_code, code, self.timeout),
                                          self.timeout + _GRACE_SECONDS)
        except TimeoutError:
            raise LintUnavailable(f"Checking did not finish within {self.timeout:g} s; the server may "
                                  "be busy, try again.") from None
        except WorkerDied:
            raise LintUnavailable("The checker stopped while checking this code; try again.") from None

    def close(self) -> None:
        """Stop the worker processes (at server shutdown)."""
        self._workers.close()
