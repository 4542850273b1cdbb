"""Keeps users' programs running: starts, watches, restarts with back-off, stops.

One per node.  All state changes happen on the IOLoop; starts, stops,
signals, readiness checks and log writes run on the supervisor's own
threads.  A program's state is what this class saw happen (it started it,
saw it exit, stopped it), never guessed from whether something answers.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TypeVar, cast

import redis.asyncio as aioredis

from sandbox import Sandbox, SpawnError
from sandbox.background import BackgroundProcess
from supervisor.keys import node_programs_key, program_key
from supervisor.spec import ProgramSpec, ProgramState, ProgramStatus, RestartPolicy
from supervisor.work import append_line, ready_checks, start_fresh

log = logging.getLogger(__name__)

T = TypeVar("T")
_WORKERS = 4


class ProgramUnknown(Exception):
    """No program of that name is supervised here."""


class ProgramFailed(Exception):
    """The program could not be brought up; the message is its last error."""


class _Program:
    """The supervisor's own record of one program (IOLoop only)."""

    def __init__(self, spec: ProgramSpec) -> None:
        self.spec = spec
        self.process: BackgroundProcess | None = None
        self.started_spec: ProgramSpec | None = None
        self.state = ProgramState.STOPPED
        self.wanted = False
        self.busy = False
        self.failures = 0
        self.started_at = 0.0
        self.last_attempt = float("-inf")
        self.last_error = ""
        self.exit_status: int | None = None
        self.starts = 0
        self.timer: asyncio.TimerHandle | None = None
        self.changed = asyncio.Event()
        self.recording = asyncio.Lock()

    def status(self) -> ProgramStatus:
        return ProgramStatus(name=self.spec.name, state=self.state,
                             pid=self.process.pid if self.process is not None else None,
                             exit_status=self.exit_status, last_error=self.last_error, starts=self.starts,
                             started=self.process.started if self.process is not None else None)


class Supervisor:
    """Runs :class:`ProgramSpec` programs in ``sandbox`` and records them in Redis.

    ``min_start_interval`` rate-limits start attempts per program, whoever
    asks (a flood of visitors to a broken app starts it at most that often).
    Programs outlive the supervisor: :meth:`close` leaves them running.
    """

    def __init__(self, redis: aioredis.Redis, sandbox: Sandbox, node: str, *,
                 poll_interval: float = 0.2, min_start_interval: float = 1.0) -> None:
        self._redis = redis
        self._sandbox = sandbox
        self._node = node
        self._poll_interval = poll_interval
        self._min_start_interval = min_start_interval
        self._programs: dict[str, _Program] = {}
        self._executor = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="supervisor")
        self._watcher: asyncio.Task[None] | None = None
        self._background: set[asyncio.Future[object]] = set()
        self._closing = False

    # -- asking ------------------------------------------------------------

    def status(self, name: str) -> ProgramStatus:
        return self._get(name).status()

    async def recorded(self, name: str) -> ProgramStatus | None:
        """What the node supervising ``name`` (this one or another) last recorded about it."""
        raw = cast(dict[str, str], await self._redis.hgetall(program_key(name)))
        if "state" not in raw:
            return None
        return ProgramStatus(name=name, state=ProgramState(raw["state"]),
                             pid=int(raw["pid"]) if raw.get("pid") else None,
                             exit_status=int(raw["exit_status"]) if raw.get("exit_status") else None,
                             last_error=raw.get("last_error", ""), starts=int(raw.get("starts") or 0),
                             started=float(raw["started"]) if raw.get("started") else None)

    def known(self, name: str) -> bool:
        return name in self._programs

    def started_spec(self, name: str) -> ProgramSpec | None:
        """The spec the running process was started with (None when none runs)."""
        program = self._get(name)
        return program.started_spec if program.process is not None else None

    async def ensure_running(self, spec: ProgramSpec) -> ProgramStatus:
        """Make ``spec`` a wanted program and start it unless it is up or on its way.

        A changed spec applies from the next start.  A ``failed`` program is
        given a fresh set of attempts.
        """
        self._watch()
        program = self._programs.get(spec.name)
        if program is None:
            program = self._programs[spec.name] = _Program(spec)
            await self._redis.sadd(node_programs_key(self._node), spec.name)
            await self._adopt(program)
        program.spec = spec
        program.wanted = True
        if program.state in (ProgramState.STOPPED, ProgramState.FAILED) and not program.busy:
            program.failures = 0
            self._schedule_start(program, 0.0)
        return program.status()

    async def wait_running(self, name: str, timeout: float) -> ProgramStatus:
        """Wait until the program runs; ProgramFailed when it cannot (now), TimeoutError after ``timeout``."""
        program = self._get(name)
        deadline = time.monotonic() + timeout
        while True:
            if program.state == ProgramState.RUNNING:
                return program.status()
            if program.state in (ProgramState.FAILED, ProgramState.BACKING_OFF) or not program.wanted:
                raise ProgramFailed(program.last_error or f"{name} is {program.state}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{name} did not come up in {timeout:g} s")
            await asyncio.wait_for(program.changed.wait(), remaining)

    async def wait_ended(self, name: str) -> ProgramStatus:
        """Wait until a program that is not restarted has ended (``stopped`` or ``failed``)."""
        program = self._get(name)
        while program.wanted or program.process is not None or program.busy or program.timer is not None:
            if program.state in (ProgramState.STOPPED, ProgramState.FAILED) and program.process is None \
                    and program.timer is None and not program.busy:
                break
            await program.changed.wait()
        return program.status()

    async def stop(self, name: str) -> ProgramStatus:
        """Stop the program (SIGTERM to its tree, SIGKILL after its grace) and leave it stopped."""
        program = self._get(name)
        program.wanted = False
        if program.timer is not None:
            program.timer.cancel()
            program.timer = None
        process = program.process
        if process is not None:
            program.exit_status = await self._run(process.stop, program.spec.stop_grace)
            self._event(program, f"stopped (pid {process.pid})")
            program.process = None
        program.failures = 0
        self._set_state(program, ProgramState.STOPPED)
        return program.status()

    async def remove(self, name: str) -> None:
        """Stop the program and forget it."""
        if name not in self._programs:
            return
        await self.stop(name)
        del self._programs[name]
        await self._redis.delete(program_key(name))
        await self._redis.srem(node_programs_key(self._node), name)

    async def reload(self, name: str) -> ProgramStatus:
        """Reload a running program: SIGHUP, returning once its workers are new ones, when its
        spec says it reloads that way; otherwise (or when it is not running) restart it."""
        program = self._get(name)
        process = program.process
        if process is None or program.state != ProgramState.RUNNING:
            return await self.ensure_running(program.spec)
        if not program.spec.reloads_on_hangup:
            await self.stop(name)
            await self.ensure_running(program.spec)
            return program.status()
        replaced = await self._run(process.reload, program.spec.stop_grace * 3, program.spec.worker_marks)
        ended = process.poll()  # waitpid(WNOHANG): never waits
        if ended is not None:  # its new workers could not start (gunicorn then stops): say so now
            if program.process is process:
                self._exited(program, process, ended)
        else:
            self._event(program, f"reloaded (pid {process.pid})" if replaced
                        else f"reload asked (pid {process.pid}); the new workers were not all ready in time")
        return program.status()

    def retry(self, name: str) -> ProgramStatus:
        """Start a program that is failing (``failed`` or ``backing off``) afresh, now."""
        program = self._get(name)
        if program.wanted and program.state in (ProgramState.FAILED, ProgramState.BACKING_OFF):
            program.failures = 0
            self._schedule_start(program, 0.0)
        return program.status()

    async def stop_all(self) -> None:
        await asyncio.gather(*(self.stop(name) for name in list(self._programs)))

    async def stop_recorded(self, grace: float = 5.0) -> tuple[int, set[str]]:
        """Stop every program Redis says this node runs, this process's or an earlier run's.

        For ``ide serve --stop-all``; returns how many were still running, and whose.
        """
        names = await self._redis.smembers(node_programs_key(self._node))
        stopped, owners = 0, set()
        for name in sorted(str(n) for n in names):
            owner = await self._redis.hget(program_key(name), "owner")
            process = await self._recorded_process(name)
            if process is not None:
                await self._run(process.stop, grace)
                stopped += 1
                owners.add(str(owner))
            await self._redis.delete(program_key(name))
            await self._redis.srem(node_programs_key(self._node), name)
        return stopped, owners

    async def _recorded_process(self, name: str) -> BackgroundProcess | None:
        record = await self._redis.hgetall(program_key(name))
        fields = {str(k): str(v) for k, v in record.items()}
        # The node's holder knows its own programs, even when the record lacks the pid (the
        # server died before writing it) or names another node (which runs a copy too).
        ours = fields.get("node", self._node) == self._node
        return await self._run(BackgroundProcess.adopt, name, int(fields.get("pid") or 0) if ours else 0,
                               float(fields.get("started") or 0), self._sandbox.isolated, self._sandbox)

    async def _adopt(self, program: _Program) -> None:
        # Programs outlive a restart of the node: take back the one an earlier run started.
        process = await self._recorded_process(program.spec.name)
        if process is None:
            return
        program.process, program.started_spec = process, program.spec
        program.started_at = time.monotonic()
        program.wanted = True
        self._event(program, f"taken over after a restart of the node (pid {process.pid})")
        self._set_state(program, ProgramState.RUNNING)

    async def close(self) -> None:
        """Stop watching; the programs keep running (they survive a restart of the node)."""
        # A flag as well as the cancellation: one that lands inside a Redis call can be
        # swallowed there (redis-py's timeouts), and the loop must end all the same.
        self._closing = True
        if self._watcher is not None:
            self._watcher.cancel()
            try:
                await self._watcher
            except asyncio.CancelledError:
                pass
            self._watcher = None
        for program in self._programs.values():
            if program.timer is not None:
                program.timer.cancel()
        await self.settled()
        self._executor.shutdown(wait=False)

    # -- starting ----------------------------------------------------------

    def _schedule_start(self, program: _Program, delay: float) -> None:
        if program.timer is not None:
            program.timer.cancel()
        earliest = program.last_attempt + self._min_start_interval - time.monotonic()
        delay = max(delay, earliest, 0.0)
        if program.state != ProgramState.BACKING_OFF:
            self._set_state(program, ProgramState.STARTING)
        program.timer = asyncio.get_running_loop().call_later(
            delay, lambda: self._keep(asyncio.ensure_future(self._start(program))))

    async def _start(self, program: _Program) -> None:
        program.timer = None
        if not program.wanted or program.process is not None or program.busy:
            return
        program.busy = True
        program.last_attempt = time.monotonic()
        self._set_state(program, ProgramState.STARTING)
        spec = program.spec
        try:
            process = await self._run(start_fresh, self._sandbox, spec)
        except SpawnError as exc:
            self._event(program, f"could not start: {exc}")
            self._failed(program, str(exc))
            return
        finally:
            program.busy = False
        program.process, program.started_spec = process, spec
        program.starts += 1
        program.started_at = time.monotonic()
        program.exit_status = None
        self._event(program, f"started (pid {process.pid})")
        if not program.wanted:  # stopped while it was starting
            await self.stop(spec.name)

    def _failed(self, program: _Program, error: str) -> None:
        program.last_error = error
        spec = program.spec
        if spec.restart == RestartPolicy.NEVER:
            self._set_state(program, ProgramState.FAILED)
            return
        if time.monotonic() - program.started_at >= spec.backoff.stable_seconds and program.started_at:
            program.failures = 0
        program.failures += 1
        if program.failures > spec.backoff.max_failures:
            self._event(program, f"gave up after {spec.backoff.max_failures} failures in a row")
            self._set_state(program, ProgramState.FAILED)
            return
        delay = spec.backoff.delay(program.failures)
        self._set_state(program, ProgramState.BACKING_OFF)
        self._schedule_start(program, delay)

    # -- watching ----------------------------------------------------------

    def _watch(self) -> None:
        if self._watcher is None:
            self._watcher = asyncio.ensure_future(self._watch_loop())

    async def _watch_loop(self) -> None:
        while not self._closing:
            await asyncio.sleep(self._poll_interval)
            try:
                await self._tick()
            except Exception:
                log.exception("watching programs failed")

    async def _tick(self) -> None:
        starting: list[_Program] = []
        for program in list(self._programs.values()):
            process = program.process
            if process is None:
                continue
            status = process.poll()  # waitpid(WNOHANG): never waits
            if status is not None:
                self._exited(program, process, status)
            elif program.state == ProgramState.STARTING:
                starting.append(program)
        if starting:
            ready = await self._run(ready_checks, [(p.spec.ready_path, p.started_at, p.spec.ready_seconds,
                                                    _workers_ready(p)) for p in starting])
            for program, is_ready in zip(starting, ready, strict=True):
                if is_ready and program.process is not None and program.state == ProgramState.STARTING:
                    self._set_state(program, ProgramState.RUNNING)

    def _exited(self, program: _Program, process: BackgroundProcess, status: int) -> None:
        program.process = None
        program.exit_status = status
        if not program.wanted:
            return  # stop() is finishing it
        ran = time.monotonic() - program.started_at
        message = f"exited with status {status} after {ran:.1f} s"
        self._event(program, f"pid {process.pid} {message}")
        if program.spec.restart == RestartPolicy.NEVER and status == 0:
            program.wanted = False
            self._set_state(program, ProgramState.STOPPED)
            return
        self._failed(program, message)

    # -- records -----------------------------------------------------------

    def _set_state(self, program: _Program, state: ProgramState) -> None:
        program.state = state
        program.changed.set()
        program.changed = asyncio.Event()
        self._keep(asyncio.ensure_future(self._record(program)))

    async def _record(self, program: _Program) -> None:
        # Writes whatever is current when its turn comes, one at a time: the
        # last write is always the latest state, whatever order tasks run in.
        async with program.recording:
            status = program.status()
            await self._redis.hset(program_key(program.spec.name), mapping={
                "owner": program.spec.identity.username, "node": self._node, "state": status.state.value,
                "pid": status.pid or "", "exit_status": "" if status.exit_status is None else status.exit_status,
                "last_error": status.last_error, "changed": time.time(), "starts": status.starts,
                "started": "" if status.started is None else repr(status.started)})

    async def settled(self) -> None:
        """Wait for the records and log lines written so far to be done."""
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    def _event(self, program: _Program, line: str) -> None:
        path = program.spec.event_log
        if path is not None:
            stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
            self._keep(asyncio.wrap_future(self._executor.submit(
                append_line, path, program.spec.identity, f"{stamp} {line}\n")))

    def _keep(self, future: asyncio.Future[object]) -> None:
        self._background.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: asyncio.Future[object]) -> None:
        self._background.discard(future)
        if not future.cancelled() and future.exception() is not None:
            log.error("supervisor background work failed", exc_info=future.exception())

    def _get(self, name: str) -> _Program:
        try:
            return self._programs[name]
        except KeyError:
            raise ProgramUnknown(f"no program {name!r} is supervised here") from None

    async def _run(self, function: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)


def _workers_ready(program: _Program) -> Callable[[], bool] | None:
    """With worker marks, a program is ready once its workers have all marked themselves."""
    process, marks = program.process, program.spec.worker_marks
    return functools.partial(process.workers_ready, marks) if process is not None and marks is not None else None
