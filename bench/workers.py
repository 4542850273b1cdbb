"""Client jobs in their own processes, steered from the benchmark's main process.

Every client runs outside the servers' processes, and a load generator
(floods, churn, many viewers) runs outside the process that times echoes,
so that neither the servers nor the measuring client share an event loop
with the load.  A job is ``async def job(control, *args)``; it talks to
the main process through ``control`` in (tag, payload) messages and its
return value arrives as the ``result`` message.
"""
from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.connection
import signal
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

Job = Callable[..., Awaitable[Any]]
_CONTEXT = multiprocessing.get_context("spawn")
# After the last line was sent, how long viewers get for lines still on their way.
STRAGGLER_SECONDS = 10.0


class JobFailed(Exception):
    """A client job raised, died or missed its deadline; the message carries its traceback."""


class Control:
    """The job's side: commands from the main process, and reports back to it."""

    def __init__(self, connection: multiprocessing.connection.Connection) -> None:
        self._connection = connection
        self._commands: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.stop = asyncio.Event()
        asyncio.get_running_loop().add_reader(connection.fileno(), self._on_readable)

    def _on_readable(self) -> None:
        try:
            while self._connection.poll():
                tag, payload = self._connection.recv()
                if tag == "stop":
                    self.stop.set()
                else:
                    self._commands.put_nowait((tag, payload))
        except EOFError:  # the main process is gone: wind down
            asyncio.get_running_loop().remove_reader(self._connection.fileno())
            self.stop.set()
            self._commands.put_nowait(("quit", None))

    async def command(self, timeout: float) -> tuple[str, Any]:
        async with asyncio.timeout(timeout):
            return await self._commands.get()

    def report(self, tag: str, payload: Any = None) -> None:
        self._connection.send((tag, payload))


def _run(connection: multiprocessing.connection.Connection, job: Job, args: tuple[Any, ...]) -> None:
    async def main() -> Any:
        return await job(Control(connection), *args)

    try:
        result = asyncio.run(main())
    except BaseException:
        connection.send(("error", traceback.format_exc()))
        return
    connection.send(("result", result))


class Worker:
    """The main process's handle on one job process."""

    def __init__(self, name: str, job: Job, *args: Any) -> None:
        self.name = name
        self._connection, child = _CONTEXT.Pipe()
        self._process = _CONTEXT.Process(target=_run, args=(child, job, args), name=name, daemon=True)
        self._process.start()
        child.close()

    def tell(self, tag: str, payload: Any = None) -> None:
        self._connection.send((tag, payload))

    def expect(self, tag: str, timeout: float) -> Any:
        """Wait for the job's next message, which must be ``tag``."""
        deadline = time.monotonic() + timeout
        while not self._connection.poll(min(1.0, max(0.0, deadline - time.monotonic()))):
            if not self._process.is_alive() and not self._connection.poll():
                raise JobFailed(f"{self.name}: the client process exited (code {self._process.exitcode})")
            if time.monotonic() >= deadline:
                raise JobFailed(f"{self.name}: no '{tag}' within {timeout:.0f} s")
        got, payload = self._connection.recv()
        if got == "error":
            raise JobFailed(f"{self.name} failed:\n{payload}")
        if got != tag:
            raise JobFailed(f"{self.name}: expected '{tag}', got '{got}'")
        return payload

    def stop(self) -> None:
        """Ask the job to wind down; a job that has finished (its end of the pipe closed) needs no telling."""
        try:
            self._connection.send(("stop", None))
        except (BrokenPipeError, ConnectionResetError):
            pass

    def has_message(self) -> bool:
        return self._connection.poll()

    def result(self, timeout: float) -> Any:
        payload = self.expect("result", timeout)
        self._process.join(10)
        return payload

    def close(self) -> None:
        """Make sure the process is gone (a no-op once it has returned its result)."""
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5)
        self._connection.close()


class Workers:
    """Every job started during a run, so that all are stopped whatever happens."""

    def __init__(self) -> None:
        self._started: list[Worker] = []

    def start(self, name: str, job: Job, *args: Any) -> Worker:
        worker = Worker(name, job, *args)
        self._started.append(worker)
        return worker

    def close_all(self) -> None:
        for worker in self._started:
            worker.close()
        self._started.clear()


def results_after_stragglers(clients: list[Worker]) -> list[Any]:
    """Give the viewer jobs :data:`STRAGGLER_SECONDS` in all to report, stop the others, collect every result."""
    deadline = time.monotonic() + STRAGGLER_SECONDS
    for client in clients:
        while not client.has_message() and time.monotonic() < deadline:
            time.sleep(0.05)
        client.stop()
    return [client.result(120) for client in clients]


def stop_on_sigterm() -> None:
    """Make SIGTERM unwind like Ctrl-C, so a benchmark stops everything it started."""
    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, interrupt)
