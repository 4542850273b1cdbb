"""What the front needs to answer a host, kept in memory between requests.

Reading the app's record, its owner's account, its static mappings and the
owner's sandbox identity took three Redis round trips and a thread on every
visitor's request.  A route holds all four; it is dropped

- at once, on every node, when the app's record or mappings change: the
  store publishes the domain on ``webapp-changes`` in the same transaction
  as the write (``store.py``), and every node listens;
- when the owner's account type changes (that change reaches every node on
  the control channel, ``Services``);
- whenever the channel is (re)subscribed, since messages published while a
  node was not listening are lost, and while it is not listening nothing is
  kept at all;
- after ``MAX_AGE`` seconds in any case, which bounds what any path the
  above misses (a record changed by hand in Redis) can cost.

A load that raced a change is not kept: each change counts, and a route
read before the count moved is served to its own request only.  A message
that anyone with access to Redis could forge costs nothing but a re-read,
so the channel is not signed.  Hosts without an app are not kept either (a
visitor choosing random names must not fill the memory).
"""
from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import redis.asyncio as aioredis

from consoles.keys import WEBAPP_CHANGES
from consoles.subscription import Subscription
from ide.webapps.store import StaticMapping, Webapp
from sandbox import Identity

MAX_AGE = 5.0
"""Seconds a route is used at most without reading the app again."""


@dataclass(frozen=True)
class Route:
    webapp: Webapp
    account_type: str
    identity: Identity
    mappings: tuple[StaticMapping, ...]
    socket_path: Path
    loaded: float


class RouteCache:
    """Routes by domain; ``load`` reads one from Redis and the sandbox (None: no app there)."""

    def __init__(self, redis: aioredis.Redis, load: Callable[[str], Awaitable[Route | None]],
                 max_age: float = MAX_AGE, on_message: Callable[[str], Awaitable[None]] | None = None) -> None:
        self._load = load
        self._on_message = on_message  # also told of every message (node_copies.py)
        self._max_age = max_age
        self._routes: dict[str, Route] = {}
        self._changes = 0
        self._subscription = Subscription(redis, WEBAPP_CHANGES, self._changed, "web app routes",
                                          on_subscribed=self.clear)

    async def start(self) -> None:
        await self._subscription.start()

    async def stop(self) -> None:
        await self._subscription.stop()
        self.clear()

    async def route(self, domain: str) -> Route | None:
        route = self._routes.get(domain)
        if route is not None and self._subscription.listening and time.monotonic() - route.loaded < self._max_age:
            return route
        changes = self._changes
        route = await self._load(domain)
        if route is None:
            self._routes.pop(domain, None)
        elif changes == self._changes and self._subscription.listening:
            self._routes[domain] = route
        return route

    def forget(self, domain: str) -> None:
        self._changes += 1
        self._routes.pop(domain, None)

    def forget_user(self, username: str) -> None:
        self._changes += 1
        for domain in [domain for domain, route in self._routes.items() if route.webapp.user == username]:
            del self._routes[domain]

    def clear(self) -> None:
        self._changes += 1
        self._routes.clear()

    async def _changed(self, message: str) -> None:
        self.forget(message.rsplit("\t", 1)[-1])  # a domain, or a reload naming one last
        if self._on_message is not None:
            await self._on_message(message)

