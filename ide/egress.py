"""The node's egress proxy: Squid on the gateway of users' network namespaces.

Started before any console (programs are told to use it), kept running
(restarted with back-off if it dies) and stopped after the last console.
Only when users have network namespaces: without them programs reach the
network directly and a proxy would decide nothing.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from pathlib import Path

from ide.config import Settings
from sandbox import Sandbox
from sandbox.network.allow_list import AllowList
from sandbox.network.proxy import EgressProxy

log = logging.getLogger(__name__)

RUN_ROOT = Path("/run")
"""Where the proxy's run directory goes: Squid runs as Debian's ``proxy``
account, which must be able to enter every directory above it."""
MAX_BACKOFF = 30.0


def allow_list(settings: Settings) -> AllowList:
    """The operator's allow-list (``--egress-allow-list``) or the shipped one; ValueError
    naming the file and line (or saying it cannot be read)."""
    if settings.egress_allow_list is None:
        return AllowList.default()
    try:
        return AllowList.from_file(settings.egress_allow_list)
    except OSError as exc:
        raise ValueError(f"--egress-allow-list {settings.egress_allow_list}: {exc.strerror}") from None


class EgressService:
    """Owns the node's :class:`EgressProxy`: start, restart after a crash, stop."""

    def __init__(self, settings: Settings, sandbox: Sandbox) -> None:
        network = sandbox.network
        self.proxy: EgressProxy | None = None
        self._task: asyncio.Task[None] | None = None
        if network is None:
            return
        self.run_dir = RUN_ROOT / f"{network.plan.table}-egress"
        self.proxy = EgressProxy(
            listen_address=str(network.plan.gateway), allow_list_port=settings.proxy_port,
            open_port=settings.proxy_open_port, allow_list=allow_list(settings),
            allowed_cidrs=settings.egress_allow_cidrs, run_dir=self.run_dir,
            hosts_file=settings.egress_hosts_file, dns_servers=settings.egress_dns_servers)

    async def start(self) -> None:
        """Start Squid (``ProxyError`` saying why not) and watch it."""
        if self.proxy is None:
            return
        await self.proxy.start()
        self._task = asyncio.ensure_future(self._supervise(self.proxy))

    async def _supervise(self, proxy: EgressProxy) -> None:
        backoff = 1.0
        while True:
            status = await proxy.wait()
            log.error("the egress proxy exited with status %s; restarting it in %.0f s", status, backoff)
            await asyncio.sleep(backoff)
            try:
                await proxy.start()
            except Exception:
                log.exception("restarting the egress proxy failed")
                backoff = min(backoff * 2, MAX_BACKOFF)
            else:
                backoff = 1.0

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.proxy is not None:
            await self.proxy.stop()
            await asyncio.to_thread(shutil.rmtree, self.run_dir, True)
