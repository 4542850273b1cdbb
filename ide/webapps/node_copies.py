"""An app runs on every node its visitors reach; what its owner does reaches each copy.

Each node's front starts the app on the first request it gets for it, as on
a single node, so with several nodes behind one proxy an app may run on
each of them.  A change is made on one node (the owner's API call); the
others learn of it on ``webapp-changes`` (the channel the store publishes
every change on, ``store.py``), and each node running a copy acts on it:

- the app disabled, deleted or given a new program: the copy is stopped
  (the front answers from the new record at once, ``routes.py``);
- the app reloaded: the copy reloads as well (gracefully, as on the node
  where the owner asked, when the program is the same; else it is stopped
  and the node's next visitor starts it with the current settings).

A forged message on the channel can only stop a copy, which the next
visitor starts again, so the channel stays unsigned (docs/security.md).
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis

from consoles.keys import WEBAPP_CHANGES
from ide.webapps.runtime import program_name
from ide.webapps.store import Webapp, WebappStore
from supervisor import Supervisor

log = logging.getLogger(__name__)

_RELOAD = "reload"


class NodeCopies:
    """The apps this node runs a copy of, by domain, kept in step with the other nodes."""

    def __init__(self, redis: aioredis.Redis, store: WebappStore, supervisor: Supervisor, node: str,
                 reload_copy: Callable[[Webapp], Awaitable[None]]) -> None:
        self._reload_copy = reload_copy
        self._redis = redis
        self._store = store
        self._supervisor = supervisor
        self._node = node
        self._running: dict[str, str] = {}

    def started(self, domain: str, name: str) -> None:
        self._running[domain] = name

    async def reloaded(self, domain: str) -> None:
        """The owner reloaded the app here: the copies on other nodes follow."""
        await self._redis.publish(WEBAPP_CHANGES, "\t".join((_RELOAD, self._node, domain)))

    async def changed(self, message: str) -> None:
        """A message of ``webapp-changes``: a domain whose record changed, or a reload."""
        parts = message.split("\t")
        reload = len(parts) == 3 and parts[0] == _RELOAD
        if reload and parts[1] == self._node:
            return  # reloaded here already
        domain = parts[-1]
        name = self._running.get(domain)
        if name is None or not self._supervisor.known(name):
            return
        webapp = await self._store.get(domain)
        if webapp is None or not webapp.enabled or program_name(webapp) != name:
            log.info("stopping this node's copy of %s: disabled, deleted or replaced", domain)
            self._running.pop(domain, None)
            await self._supervisor.stop(name)
        elif reload:
            await self._reload_copy(webapp)
