"""The node's tasks on its one supervisor: the scheduler and the always-on keeper."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass

import redis.asyncio as aioredis

from ide.accounts import AccountStore, UserNotFound
from ide.config import Settings
from sandbox import Identity, Sandbox
from supervisor import Supervisor
from tasks.always_on import AlwaysOnStore
from tasks.claims import RunClaims
from tasks.clock import AdjustableClock, Clock
from tasks.keeper import AlwaysOnKeeper
from tasks.runner import IdentityOf, ScheduledRuns
from tasks.scheduler import Scheduler
from tasks.store import TaskStore


def identity_lookup(accounts: AccountStore, sandbox: Sandbox) -> IdentityOf:
    """A user's sandbox identity with the limits of their account type as it is now."""
    async def identity_of(username: str) -> Identity:
        user = await accounts.get(username)
        if user is None:
            raise UserNotFound(username)
        # The first use of a user runs useradd: off the IOLoop.
        return await asyncio.get_running_loop().run_in_executor(
            None, sandbox.identity, user.name, user.account_type)
    return identity_of


@dataclass
class TaskRuntime:
    supervisor: Supervisor
    scheduler: Scheduler
    keeper: AlwaysOnKeeper

    @classmethod
    def build(cls, settings: Settings, redis: aioredis.Redis, sandbox: Sandbox, supervisor: Supervisor,
              accounts: AccountStore, tasks: TaskStore, always_on: AlwaysOnStore, node: str) -> TaskRuntime:
        identity_of = identity_lookup(accounts, sandbox)
        runs = ScheduledRuns(sandbox, supervisor, identity_of)
        clock = AdjustableClock(redis) if settings.adjustable_clock else Clock()
        scheduler = Scheduler(redis, tasks, RunClaims(redis, node), clock, runs.run, runs.note, runs.stop)
        keeper = AlwaysOnKeeper(redis, always_on, sandbox, supervisor, identity_of, node)
        return cls(supervisor=supervisor, scheduler=scheduler, keeper=keeper)

    async def start(self) -> None:
        await self.keeper.start()
        await self.scheduler.start()

    async def stop(self) -> None:
        """Stop scheduling (and this node's runs in progress); always-on programs keep running, and
        the next server on this node takes them back (the supervisor closes with the server)."""
        await self.scheduler.stop()
        await self.keeper.stop()
