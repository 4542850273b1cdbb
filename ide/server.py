"""Start and stop one node: storage, services, HTTP listener."""
from __future__ import annotations

import asyncio
import errno
import fcntl
import gc
import logging
import os
import secrets
import signal
import socket
import tempfile
from pathlib import Path
from typing import cast

import redis.asyncio as aioredis
import tornado.httpserver
import tornado.netutil

from consoles import NodeKey
from consoles.keys import COOKIE_SECRET
from ide.assets import MissingBundle
from ide.config import Settings
from ide.egress import EgressService, allow_list
from ide.node_secret import NodeSecretError, node_key
from ide.redis_client import RedisTarget, RedisUnavailable, connect
from ide.redis_server import EmbeddedRedis
from ide.services import build_services, network_settings
from sandbox import SHARED_ACCOUNT, NetworkIsolationUnavailable, SandboxError
from sandbox.holder import HolderClient, HolderUnavailable
from sandbox.network.proxy import ProxyError

log = logging.getLogger("ide")


class StartupError(Exception):
    """The server cannot start; the message is one line for the operator."""


def hold_node_lock(settings: Settings) -> int:
    """The node's lock, held while this server runs: a second ``ide serve`` of the same node
    and data directory would take the first one's programs from under it."""
    settings.node_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(settings.node_dir / "serve.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        node = f" as node {settings.node_id}" if settings.node_id else ""
        raise StartupError(f"another ide serve already runs on the data directory {settings.data_dir}{node}; "
                           "stop it first (or give this one its own --data-dir or --node-id)") from None
    return fd


def check_data_dir(data_dir: Path) -> None:
    """Fail early, with a message, if the data directory cannot be written.

    A real write (root passes every permission check), under a unique name:
    several ``ide`` commands may check the same directory at once.
    """
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=data_dir, prefix=".write-test-") as probe:
            probe.write(b"ok")
    except OSError as exc:
        raise StartupError(f"the data directory {data_dir} is not writable: "
                           f"{exc.strerror or exc}") from None


class Storage:
    """The Redis this node uses: embedded in the data dir, or external."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.embedded: EmbeddedRedis | None = None
        self.redis: aioredis.Redis | None = None

    async def open(self) -> aioredis.Redis:
        settings = self.settings
        if settings.redis_url is not None:
            target = RedisTarget(settings.redis_url, settings.redis_ca, settings.redis_cert, settings.redis_key)
            target.warn_if_open()
        else:
            embedded = EmbeddedRedis(settings.redis_dir)
            # A server already running on this data dir owns its Redis: the
            # CLI then shares it rather than starting a second one.
            if not await self._reuse_running(embedded):
                await embedded.start()
                self.embedded = embedded
            target = RedisTarget(embedded.url)
        self.redis = await connect(target)
        return self.redis

    @staticmethod
    async def _reuse_running(embedded: EmbeddedRedis) -> bool:
        """True when a server on this data dir already runs its Redis (CLI use)."""
        if not Path(embedded.socket_path).exists():
            return False
        try:
            client = await connect(RedisTarget(embedded.url))
        except Exception:
            return False
        await client.aclose()
        return True

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()
        if self.embedded is not None:
            self.embedded.stop()


def load_node_key(settings: Settings) -> NodeKey:
    """The key this node signs and checks messages between nodes with."""
    try:
        return node_key(settings)
    except NodeSecretError as exc:
        raise StartupError(str(exc)) from None


async def cookie_secret(redis: aioredis.Redis) -> str:
    """One secret per deployment, shared by every node through Redis."""
    await redis.set(COOKIE_SECRET, secrets.token_hex(32), nx=True)
    return cast(str, await redis.get(COOKIE_SECRET))


def check_isolation_choice(settings: Settings, is_root: bool) -> None:
    """As root, users' programs run fully isolated unless the operator asked
    otherwise by a flag that says what it costs; explicit ``off``/``rlimits``
    would otherwise be the same silent fail-open as a fallback."""
    if is_root and settings.sandbox in ("off", "rlimits") and not settings.unsafe_no_isolation:
        raise StartupError(
            f"--sandbox {settings.sandbox} runs users' programs without isolation and this server "
            "runs as root: use --sandbox full (or auto), or add --unsafe-no-isolation to run them "
            f"all as the unprivileged account {settings.uid_prefix}{SHARED_ACCOUNT}")


def bind(settings: Settings) -> list[socket.socket]:
    try:
        return tornado.netutil.bind_sockets(settings.port, settings.address)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(f"port {settings.port} on {settings.address} is already in use; "
                               "stop the other server or choose another --port") from None
        if exc.errno == errno.EACCES:
            raise StartupError(f"no permission to listen on port {settings.port}; "
                               "ports below 1024 need root") from None
        raise StartupError(f"cannot listen on {settings.address}:{settings.port}: "
                           f"{exc.strerror or exc}") from None


def listening_url(sockets: list[socket.socket]) -> str:
    """The URL of the first bound socket, e.g. ``http://127.0.0.1:41234/``."""
    host, port = sockets[0].getsockname()[:2]
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/"


async def stop_all(settings: Settings) -> None:
    """``ide serve --stop-all``: end the programs this node supervises, then return.

    Ending programs must not depend on Redis: when it cannot be reached, the
    node's holder still ends every program it keeps, and the records are
    left for the next server to correct.
    """
    storage = Storage(settings)
    try:
        try:
            redis = await storage.open()
        except RedisUnavailable as exc:
            stopped = await asyncio.to_thread(_stop_held_only, settings)
            log.warning("%s; the node's programs were ended, their records left as they were", exc)
            print(f"Stopped {stopped} program{'s' if stopped != 1 else ''} of this node.", flush=True)
            return
        try:
            services = build_services(settings, redis, await cookie_secret(redis), load_node_key(settings))
        except SandboxError as exc:
            raise StartupError(str(exc)) from None
        held_for = {str(program.meta["owner"]) for program in await services.sandbox.held_programs()
                    if program.meta.get("owner")}
        stopped, owners = await services.supervisor.stop_recorded()
        stopped += await services.console_manager.end_all_held()
        for owner in sorted(owners | held_for):
            await services.sandbox.kill_user_processes(owner)  # whatever the programs left behind
        # Every user's namespace, also those a crashed server left with nothing running in them.
        for user in await services.accounts.all_users():
            await services.sandbox.forget_network(user.name)
        print(f"Stopped {stopped} program{'s' if stopped != 1 else ''} of this node.", flush=True)
        await services.supervisor.close()
        await services.sandbox.close()
        services.files.close()
    finally:
        await storage.close()


def _stop_held_only(settings: Settings) -> int:
    holder = HolderClient(settings.holder_dir)
    try:
        return holder.stop_all(grace=5.0)
    except HolderUnavailable as exc:
        raise StartupError(str(exc)) from None
    finally:
        holder.close(quit_if_empty=True)


async def serve(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM; everything started here is stopped here."""
    from ide.app import make_app
    from ide.web.fallbacks import BODY_LIMIT

    check_isolation_choice(settings, os.geteuid() == 0)
    try:
        network_settings(settings)
        allow_list(settings)
    except ValueError as exc:
        raise StartupError(str(exc)) from None
    check_data_dir(settings.data_dir)
    key = load_node_key(settings)
    if settings.stop_all:
        await stop_all(settings)
        return
    node_lock = hold_node_lock(settings)
    sockets = bind(settings)
    storage = Storage(settings)
    try:
        redis = await storage.open()
        try:
            services = build_services(settings, redis, await cookie_secret(redis), key)
        except MissingBundle as exc:
            raise StartupError(str(exc)) from None
        except NetworkIsolationUnavailable as exc:
            raise StartupError(f"{exc}; as root the server starts only when each user's programs get "
                               "their own network namespace (or with --unsafe-shared-network)") from None
        except SandboxError as exc:
            hint = ("; as root the server starts only when it can isolate users' programs fully "
                    "(or with --unsafe-no-isolation)" if os.geteuid() == 0 else "")
            raise StartupError(f"{exc}{hint}") from None
        if services.sandbox_status:
            unsafe = "UNSAFE (--unsafe-no-isolation): " if settings.unsafe_no_isolation else ""
            log.warning("%s%s", unsafe, services.sandbox_status)
        elif settings.unsafe_shared_network:
            log.warning("UNSAFE (--unsafe-shared-network): %s", services.sandbox.status().summary)
        try:
            egress = EgressService(settings, services.sandbox)
            await egress.start()
        except ProxyError as exc:
            await services.sandbox.close()
            raise StartupError(f"the egress proxy could not start: {exc}") from None
        try:
            adopted, ended = await services.console_manager.adopt()
        except SandboxError as exc:
            await egress.stop()
            await services.sandbox.close()
            raise StartupError(str(exc)) from None
        if adopted or ended:
            log.info("consoles of an earlier server: %d taken back, %d ended", adopted, ended)
        await services.console_manager.listen()
        await services.console_policy.start()
        services.cpu.start()
        await services.webapps.start()
        await services.programs.start()
        app = make_app(services)
        # What start-up loaded (modules, templates, routes) lives as long as the
        # server: out of the cyclic collector's sight, its full passes stay
        # short, and so do the pauses they put in every console's output.
        gc.freeze()
        # Bodies are capped before anyone is authenticated; upload handlers
        # raise the cap for their own request once they know the caller.
        http_server = tornado.httpserver.HTTPServer(app, xheaders=settings.trust_proxy_headers,
                                                    max_body_size=BODY_LIMIT)
        http_server.add_sockets(sockets)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        # What the sockets are bound to, not what was asked: --port 0 gets a
        # port from the kernel, and scripts read the address from this line.
        # Printed once a signal would stop the server cleanly.
        print(f"Listening on {listening_url(sockets)}", flush=True)
        await stop.wait()
        http_server.stop()
        await services.programs.stop()
        await services.cpu.stop()
        await services.console_policy.stop()
        # Consoles, web apps and tasks keep running in the node's holder: the next server
        # takes them back (`--stop-all` ends them).
        await services.console_manager.leave_running()
        await services.webapps.close()
        await services.supervisor.close()
        await egress.stop()
        await services.sandbox.close()
        services.files.close()
        await http_server.close_all_connections()
    finally:
        await storage.close()
        os.close(node_lock)
