"""What a node checks of its running web apps every second: changed WSGI files, idle apps.

Saving or touching a running app's WSGI file reloads it (a failing app is
retried at once: the save is probably its fix), and a free account's app
that has had no request for ``idle_stop`` seconds is stopped; the next
request starts it again.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path

from supervisor import Supervisor

log = logging.getLogger(__name__)


class AppWatch:
    """The node's apps by supervisor program name: their WSGI files and last requests."""

    def __init__(self, supervisor: Supervisor, idle_stop: float) -> None:
        self.supervisor = supervisor
        self.idle_stop = idle_stop
        self._wsgi_files: dict[str, Path] = {}
        self._wsgi_mtimes: dict[str, int] = {}
        self._last_request: dict[str, float] = {}
        self._may_idle: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    async def starting(self, name: str, wsgi_file: Path) -> None:
        """The app is being started with ``wsgi_file`` as it is now: a save from now on is a change."""
        self._wsgi_mtimes[name] = await asyncio.to_thread(_mtime, wsgi_file)
        self._wsgi_files[name] = wsgi_file
        if self._task is None:
            self._task = asyncio.ensure_future(self._watch())

    def requested(self, name: str, may_idle: bool) -> None:
        """A request for the app arrived (``may_idle``: its owner's apps stop when idle)."""
        self.touch(name)
        (self._may_idle.add if may_idle else self._may_idle.discard)(name)

    def touch(self, name: str) -> None:
        """A request to the app has just ended: its idle time starts now."""
        self._last_request[name] = time.monotonic()

    def forget(self, name: str) -> None:
        self._wsgi_files.pop(name, None)
        self._wsgi_mtimes.pop(name, None)
        self._last_request.pop(name, None)
        self._may_idle.discard(name)

    async def _watch(self) -> None:
        while not self._closing:
            await asyncio.sleep(1.0)
            try:
                await self._reload_changed()
                await self._stop_idle()
            except Exception:
                log.exception("watching web apps failed")

    async def _stop_idle(self) -> None:
        now = time.monotonic()
        for name in list(self._may_idle):
            if (self.supervisor.known(name) and self.supervisor.status(name).running
                    and now - self._last_request.get(name, now) > self.idle_stop):
                await self.supervisor.stop(name)  # the next request starts it again

    async def _reload_changed(self) -> None:
        for name in list(self._wsgi_files):
            if not self.supervisor.known(name):
                continue
            mtime = await asyncio.to_thread(_mtime, self._wsgi_files[name])
            previous = self._wsgi_mtimes.get(name)
            self._wsgi_mtimes[name] = mtime
            if mtime == previous:
                continue
            if self.supervisor.started_spec(name) is not None:
                await self.supervisor.reload(name)
            else:  # a fix saved to a failing app: try it at once
                self.supervisor.retry(name)

    async def close(self) -> None:
        # A flag as well as the cancellation: one that lands inside a Redis call can be
        # swallowed there (redis-py's timeouts), and the loop must end all the same.
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass


def _mtime(path: os.PathLike[str]) -> int:
    try:
        return os.stat(path, follow_symlinks=False).st_mtime_ns
    except OSError:
        return 0
