"""A node's scheduler: sleeps until the next due minute, claims its runs, and has them run.

Every node runs one.  They all sleep on the same due index and all wake
for the same minute; :class:`~tasks.claims.RunClaims` gives each run to
exactly one of them.  Nothing polls: a node sleeps until the earliest due
time (at most :data:`LONGEST_SLEEP`), and a change to any task wakes every
node through ``ide:tasks`` so a task due sooner than they thought is not
late.  A message there carries only a task id and makes a node look at
Redis again, so a forged one can do no more than wake it.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import redis.asyncio as aioredis

from consoles.keys import TASKS_CHANNEL
from consoles.subscription import Subscription
from tasks.claims import LEASE_SECONDS, Claim, RunClaims
from tasks.clock import Clock
from tasks.store import ScheduledTask, TaskStore

log = logging.getLogger(__name__)

LONGEST_SLEEP = 300.0
"""A node re-reads the due index at least this often, whatever it was told."""
BATCH = 200
RETRY_DELAY = 1.0

RunTask = Callable[[ScheduledTask], Awaitable[tuple[int, float]]]
"""Runs one task to its end on this node: (exit status, duration in seconds)."""
NoteTask = Callable[[ScheduledTask, str], Awaitable[None]]
"""Appends a line to the task's log."""
StopTask = Callable[[int], Awaitable[None]]
"""Ends this node's run of a task, if it has one."""


def log_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class Scheduler:
    def __init__(self, redis: aioredis.Redis, store: TaskStore, claims: RunClaims, clock: Clock,
                 run: RunTask, note: NoteTask, stop_run: StopTask) -> None:
        self._store = store
        self._claims = claims
        self._clock = clock
        self._run = run
        self._note = note
        self._stop_run = stop_run
        # Set by any change; the sleep below ends at once when it is set.
        self._woken = False
        self._stopping = False
        self._waker: asyncio.Future[None] | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._runs: dict[int, asyncio.Task[None]] = {}
        # The task's stop-request count when each run here began.
        self._stops_at_start: dict[int, int] = {}
        self._subscription = Subscription(redis, TASKS_CHANNEL, self._on_change, "scheduler")

    @property
    def running(self) -> set[int]:
        """Ids of the tasks this node is running now."""
        return set(self._runs)

    async def start(self) -> None:
        await self._subscription.start()
        self._loop_task = asyncio.ensure_future(self._loop())

    async def stop(self) -> None:
        # A flag as well as the cancellation: a cancellation that lands inside a Redis call can be
        # swallowed there (redis-py's timeouts), and the loop must end all the same.
        self._stopping = True
        self._wake()
        await self._subscription.stop()
        if self._loop_task is not None:
            self._loop_task.cancel()
            try:
                await self._loop_task
            except asyncio.CancelledError:
                pass
        for task_id in list(self._runs):
            await self._stop_run(task_id)
        if self._runs:
            await asyncio.gather(*self._runs.values(), return_exceptions=True)

    def _wake(self) -> None:
        self._woken = True
        if self._waker is not None and not self._waker.done():
            self._waker.set_result(None)

    async def _sleep(self, delay: float) -> None:
        """Sleep ``delay`` seconds or until woken, whichever comes first (a plain future and a
        timer: cancelling the loop while it sleeps ends it at once)."""
        if self._woken:
            return
        waker = self._waker = asyncio.get_running_loop().create_future()
        timer = asyncio.get_running_loop().call_later(delay, self._wake)
        try:
            await waker
        finally:
            timer.cancel()
            self._waker = None

    async def _on_change(self, message: str) -> None:
        self._wake()
        if message.isdigit() and int(message) in self._runs:
            task_id = int(message)
            try:
                task = await self._store.find(task_id)
            except LookupError:  # deleted while it ran here: the run ends with it
                await self._stop_run(task_id)
                return
            if task.stop_requests > self._stops_at_start.get(task_id, task.stop_requests):
                await self._stop_run(task_id)

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                await self._pass()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scheduler: a pass over the due tasks failed; trying again")
                await asyncio.sleep(RETRY_DELAY)

    async def _pass(self) -> None:
        # Cleared before reading, so a change announced meanwhile wakes the sleep below.
        self._woken = False
        await self._clock.refresh()
        now = self._clock.now()
        due = await self._claims.due_now(now, BATCH)
        for task_id in due:
            claim = await self._claims.claim(task_id, now)
            if claim is not None:
                await self._act(claim)
        if len(due) == BATCH:
            return  # more are due: no sleep
        following = await self._claims.next_due()
        delay = LONGEST_SLEEP if following is None else min(LONGEST_SLEEP, following - self._clock.now())
        if delay > 0:
            await self._sleep(delay)

    async def _act(self, claim: Claim) -> None:
        try:
            task = await self._store.find(claim.task_id)
        except LookupError:
            return  # deleted between the claim and now
        if claim.decision == "run":
            self._stops_at_start[task.id] = task.stop_requests
            self._runs[task.id] = asyncio.ensure_future(self._run_and_record(task))
        elif claim.decision == "skipped":
            await self._note(task, f"{log_time(time.time())}: the run due at {log_time(claim.due)} "
                                   "was skipped: the previous run is still going")
        elif claim.decision == "missed":
            await self._note(task, f"{log_time(time.time())}: the run due at {log_time(claim.due)} "
                                   "was missed: no server was running then")
        elif claim.decision == "expired":
            await self._note(task, f"{log_time(time.time())}: the task expired and is disabled; "
                                   "extend it on the Tasks page to run it again")

    async def _run_and_record(self, task: ScheduledTask) -> None:
        renewing = asyncio.ensure_future(self._renew(task.id))
        try:
            exit_status, duration = await self._run(task)
            await self._claims.finish(task.id, exit_status, duration)
        except Exception:
            log.exception("scheduler: running task %s failed", task.id)
            await self._claims.finish(task.id, -1, 0.0)
        finally:
            renewing.cancel()
            self._runs.pop(task.id, None)
            self._stops_at_start.pop(task.id, None)

    async def _renew(self, task_id: int) -> None:
        while True:
            await asyncio.sleep(LEASE_SECONDS / 3)
            try:
                await self._claims.renew(task_id)
            except Exception:
                log.warning("scheduler: could not renew the lease of task %s's run", task_id)
