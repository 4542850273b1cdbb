"""The front's routes kept in memory: read once, forgotten on every published change, never kept
from a read that raced a change, nor while the channel is not listened to."""
from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from consoles.keys import webapp_key
from ide.webapps.routes import Route, RouteCache
from ide.webapps.store import StaticMapping, Webapp, WebappStore
from sandbox import Identity


def webapp(domain: str, user: str = "alice", enabled: bool = True) -> Webapp:
    return Webapp(id=1, user=user, domain_name=domain, python_version="python311", source_directory="",
                  virtualenv_path="", enabled=enabled, force_https=False, password_protection_enabled=False,
                  password_protection_username="", password_digest="", created=0.0)


class Loads:
    """A loader reading the app from the store, as the service's does, counting its reads."""

    def __init__(self, store: WebappStore) -> None:
        self.store = store
        self.count = 0
        self.during: list[RouteCache] = []

    async def __call__(self, domain: str) -> Route | None:
        self.count += 1
        found = await self.store.get(domain)
        for cache in self.during:  # a change that lands while this read is under way
            cache.forget(domain)
        if found is None:
            return None
        mappings = tuple(await self.store.static_mappings(domain))
        return Route(found, "free", Identity(found.user, "free", Path("/nowhere")), mappings, Path("/nowhere.sock"),
                     time.monotonic())


@asynccontextmanager
async def connected(redis_server: str) -> AsyncIterator[WebappStore]:
    client = aioredis.Redis(unix_socket_path=redis_server, decode_responses=True)
    try:
        yield WebappStore(client)
    finally:
        await client.aclose()


async def stored(store: WebappStore, record: Webapp) -> None:
    await store.redis.hset(webapp_key(record.domain_name), mapping={"id": "1", **record.to_hash()})


async def reloaded(cache: RouteCache, loads: Loads, domain: str, count: int) -> Route | None:
    """The route once the cache has read it ``count`` times (the change's message is on its way)."""
    deadline = time.monotonic() + 10
    while True:
        route = await cache.route(domain)
        if loads.count >= count:
            return route
        assert time.monotonic() < deadline, "the change was never heard"
        await asyncio.sleep(0.01)


@pytest.mark.gen_test(timeout=30)
async def test_a_route_is_read_once_and_again_after_each_published_change(redis_server):
    async with connected(redis_server) as store:
        domain = f"a{secrets.token_hex(4)}.example.org"
        await stored(store, webapp(domain))
        loads = Loads(store)
        cache = RouteCache(store.redis, loads, max_age=3600)
        await cache.start()
        try:
            for _ in range(3):
                route = await cache.route(domain)
                assert route is not None and route.webapp.enabled
            assert loads.count == 1

            # Disabled through the store, as the API does on any node: the message reaches this cache.
            await store.save(webapp(domain, enabled=False))
            route = await reloaded(cache, loads, domain, 2)
            assert route is not None and not route.webapp.enabled
            await store.save_static_mapping(domain, "/s/", "/home/alice/s")
            route = await reloaded(cache, loads, domain, 3)
            assert route is not None and route.mappings == (route.mappings[0],) and route.mappings[0].url == "/s/"
            assert isinstance(route.mappings[0], StaticMapping)
            await store.delete(webapp(domain))
            assert await reloaded(cache, loads, domain, 4) is None
        finally:
            await cache.stop()


@pytest.mark.gen_test(timeout=30)
async def test_a_read_that_raced_a_change_serves_its_request_only(redis_server):
    async with connected(redis_server) as store:
        domain = f"b{secrets.token_hex(4)}.example.org"
        await stored(store, webapp(domain))
        loads = Loads(store)
        cache = RouteCache(store.redis, loads, max_age=3600)
        await cache.start()
        try:
            loads.during.append(cache)
            assert await cache.route(domain) is not None
            loads.during.clear()
            await cache.route(domain)
            assert loads.count == 2  # the raced read was not kept
            await cache.route(domain)
            assert loads.count == 2
        finally:
            await cache.stop()


@pytest.mark.gen_test(timeout=30)
async def test_nothing_is_kept_without_the_channel_and_all_is_forgotten_when_it_is_back(redis_server):
    async with connected(redis_server) as store:
        domain = f"c{secrets.token_hex(4)}.example.org"
        await stored(store, webapp(domain))
        loads = Loads(store)
        cache = RouteCache(store.redis, loads, max_age=3600)
        await cache.start()
        try:
            await cache.route(domain)
            assert loads.count == 1
            # Redis drops the subscription (as on a restart): what was published meanwhile is lost,
            # so the routes kept are forgotten once it listens again.
            await store.redis.client_kill_filter(_type="pubsub")
            await reloaded(cache, loads, domain, 2)
        finally:
            await cache.stop()
        # Not listening at all: every request reads.
        before = loads.count
        await cache.route(domain)
        await cache.route(domain)
        assert loads.count == before + 2


@pytest.mark.gen_test(timeout=30)
async def test_an_owners_routes_are_forgotten_with_their_account_type(redis_server):
    async with connected(redis_server) as store:
        domains = [f"d{secrets.token_hex(4)}.example.org" for _ in range(2)]
        for domain, user in zip(domains, ("alice", "bob"), strict=True):
            await stored(store, webapp(domain, user))
        loads = Loads(store)
        cache = RouteCache(store.redis, loads, max_age=3600)
        await cache.start()
        try:
            for domain in domains:
                await cache.route(domain)
            cache.forget_user("alice")
            for domain in domains:
                await cache.route(domain)
            assert loads.count == 3  # alice's read again, bob's kept
        finally:
            await cache.stop()
