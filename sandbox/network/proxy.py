"""The egress proxy: Squid, run by the server as a child, for users' programs.

Users' programs reach the internet only through this proxy (the network
namespaces route nothing else). It listens on two ports: the allow-list port
for free accounts and the open port for paid ones; the rules are in
``squid_config``. Squid runs in the foreground (``-N``) as the ``proxy``
account with everything it reads and writes inside ``run_dir``, so several
servers (or test runs) can each run their own next to a system Squid.
"""
from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import pwd
import re
import shutil
import signal
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from sandbox.errors import SandboxError
from sandbox.network.allow_list import AllowList
from sandbox.network.destinations import node_addresses, parse_cidrs
from sandbox.network.squid_config import SquidFiles, SquidSettings, write_files

SQUID_ACCOUNT = "proxy"
"""Debian's unprivileged account for Squid; it owns nothing but the proxy's state directory."""

START_TIMEOUT = 30.0
"""Seconds Squid gets to open both ports; it needs well under one on an idle machine."""

STOP_GRACE = 5.0
"""Seconds between SIGTERM and SIGKILL (Squid is told to close client connections after one)."""

_POLL = 0.05


class ProxyError(SandboxError):
    """The proxy could not be configured, started or kept running; the message says why."""


def _find_squid() -> str:
    found = shutil.which("squid") or shutil.which("squid", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise ProxyError("Squid is not installed (on Debian: apt-get install squid); "
                         "the egress proxy runs it")
    return found


def _account() -> tuple[str | None, int | None, int | None]:
    """The account Squid should switch to: ``proxy`` when we are root, else our own."""
    if os.geteuid() != 0:
        return None, None, None
    try:
        entry = pwd.getpwnam(SQUID_ACCOUNT)
    except KeyError:
        raise ProxyError(f"there is no {SQUID_ACCOUNT!r} account for Squid to run as "
                         "(Debian's squid package creates it)") from None
    return SQUID_ACCOUNT, entry.pw_uid, entry.pw_gid


def _unreachable_by(path: Path, uid: int, gid: int) -> Path | None:
    """The first directory on the way to ``path`` that account ``uid``/``gid`` cannot pass through."""
    for directory in reversed(path.resolve().parents):
        if not directory.exists():
            return None  # made by ``write_files``, searchable by all
        status = directory.stat()
        bit = 0o100 if status.st_uid == uid else 0o010 if status.st_gid == gid else 0o001
        if not status.st_mode & bit:
            return directory
    return None


_ACCEPTING = re.compile(r"Accepting HTTP Socket connections at \S+ local=\S+:(\d+) ")
_PROBLEM = re.compile(r"(FATAL|ERROR|Cannot|Bungled|unrecognized|Unknown)", re.IGNORECASE)
_BIND_FAILED = re.compile(r"Cannot bind socket")
"""Squid keeps running when one of its ports cannot be bound; for us that is a failed start."""
_TIMESTAMP = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(\.\d+)?\|\s*")


def _problems(text: str) -> str:
    """The lines of a Squid log that say what went wrong, joined; the last lines if none does."""
    lines = [_TIMESTAMP.sub("", line.strip()) for line in text.splitlines() if line.strip()]
    chosen = [line for line in lines if _PROBLEM.search(line)] or lines[-3:]
    return " / ".join(dict.fromkeys(chosen[-6:])) or "it logged nothing"


class EgressProxy:
    """Squid, run by the server as a child, for users' programs.

    ``start()`` writes the configuration and returns once both ports accept
    connections; ``wait()`` tells the owner when Squid exits, so it can be
    restarted (with back-off) if it dies; ``stop()`` ends it and may be called
    any number of times.
    """

    def __init__(self, *, listen_address: str, allow_list_port: int, open_port: int,
                 allow_list: AllowList, allowed_cidrs: Sequence[str], run_dir: Path,
                 hosts_file: Path | None = None, dns_servers: Sequence[str] = ()) -> None:
        """``dns_servers`` replaces the host's resolvers for Squid (tests point it at their own)."""
        try:
            listen = ipaddress.ip_address(listen_address)
            admitted = parse_cidrs(allowed_cidrs)
            for server in dns_servers:
                ipaddress.ip_address(server)
        except ValueError as error:
            raise ProxyError(f"egress proxy: {error}") from None
        if listen.is_unspecified:
            raise ProxyError(f"egress proxy: listening on {listen_address} would open the proxy to every "
                             "network the node is on; give the gateway address users' namespaces reach")
        if hosts_file is not None and not hosts_file.is_file():
            raise ProxyError(f"egress proxy: the hosts file {hosts_file} does not exist")
        for port in (allow_list_port, open_port):
            if not 0 < port < 65536:
                raise ProxyError(f"egress proxy: port {port} is not between 1 and 65535")
        if allow_list_port == open_port:
            raise ProxyError("egress proxy: the allow-list port and the open port must differ")
        self.listen_address = listen_address
        self.allow_list_port = allow_list_port
        self.open_port = open_port
        self.allow_list = allow_list
        self.admitted = admitted
        self.hosts_file = hosts_file
        self.dns_servers = tuple(dns_servers)
        self.files = SquidFiles(run_dir)
        self._process: asyncio.subprocess.Process | None = None
        self._exited: asyncio.Future[int] | None = None
        self._watcher: asyncio.Future[int] | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    @property
    def pid(self) -> int | None:
        """Squid's process id while it runs."""
        return self._process.pid if self.running and self._process else None

    def proxy_url(self) -> str:
        """What users' programs get as ``http_proxy``/``https_proxy``: the allow-list port."""
        return self._url(self.allow_list_port)

    def open_url(self) -> str:
        """The open port's URL (paid accounts are redirected there by the firewall)."""
        return self._url(self.open_port)

    def _url(self, port: int) -> str:
        host = f"[{self.listen_address}]" if ":" in self.listen_address else self.listen_address
        return f"http://{host}:{port}"

    async def start(self) -> None:
        """Write the configuration, start Squid and wait until both ports accept connections.

        Raises ProxyError with Squid's own reason (a port in use, a bad hosts
        file, ...) if it exits or does not get ready in ``START_TIMEOUT``.
        """
        if self.running:
            raise ProxyError("the egress proxy is already running")
        squid = _find_squid()
        user, uid, gid = _account()
        settings = SquidSettings(
            listen_address=self.listen_address, allow_list_port=self.allow_list_port,
            open_port=self.open_port, allow_list=self.allow_list, admitted=self.admitted,
            node_addresses=node_addresses(), hosts_file=self.hosts_file,
            dns_servers=self.dns_servers, effective_user=user)
        if uid is not None and gid is not None:
            blocked = _unreachable_by(self.files.state, uid, gid)
            if blocked is not None:
                raise ProxyError(f"Squid runs as {user!r}, which cannot enter {blocked} on the way to "
                                 f"{self.files.run_dir}: put the proxy's run directory elsewhere "
                                 "or let others enter that directory (mode o+x)")
        try:
            await asyncio.to_thread(write_files, settings, self.files, uid, gid)
        except OSError as error:
            raise ProxyError(f"cannot write the egress proxy's files in {self.files.run_dir}: {error}") from None
        await self._stop_leftover()
        log_start = await asyncio.to_thread(_size, self.files.cache_log)
        stderr_path = self.files.state / "squid.stderr"
        with stderr_path.open("wb") as stderr:
            self._process = await asyncio.create_subprocess_exec(
                squid, "-N", "-f", str(self.files.config),
                stdin=asyncio.subprocess.DEVNULL, stdout=stderr, stderr=stderr,
                start_new_session=True)
        process = self._process
        exited: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._exited = exited
        self._watcher = asyncio.ensure_future(process.wait())
        self._watcher.add_done_callback(partial(_settle, exited))
        try:
            await asyncio.wait_for(self._until_ready(log_start), START_TIMEOUT)
        except (TimeoutError, ProxyError) as error:
            log = await asyncio.to_thread(_read_from, self.files.cache_log, log_start)
            said = await asyncio.to_thread(_read_from, stderr_path, 0)
            await self.stop()
            if isinstance(error, ProxyError):
                raise ProxyError(f"{error}: {_problems(said + log)} (log: {self.files.cache_log})") from None
            raise ProxyError(f"Squid did not open ports {self.allow_list_port} and {self.open_port} "
                             f"on {self.listen_address} within {START_TIMEOUT:.0f} s: "
                             f"{_problems(said + log)} (log: {self.files.cache_log})") from None

    async def _stop_leftover(self) -> None:
        """End a Squid still running on this run directory from a server that died without stopping it.

        Squid leads its own session and switches user, so it outlives a killed
        server and would keep the ports (and the old rules); its pid file and
        command line say whether it is ours.
        """
        pid = await asyncio.to_thread(_leftover_pid, self.files)
        if pid is None:
            return
        _signal_group(pid, signal.SIGKILL)
        for _ in range(int(STOP_GRACE / _POLL)):
            if not await asyncio.to_thread(_is_running, pid):
                # Until init reaps it the pid still answers kill(0), and the new Squid
                # would take its pid file for a running instance.
                with contextlib.suppress(FileNotFoundError):
                    self.files.pid_file.unlink()
                return
            await asyncio.sleep(_POLL)
        raise ProxyError(f"a Squid left over from an earlier run (pid {pid}) on {self.files.run_dir} "
                         "did not end when killed")

    async def _until_ready(self, log_start: int) -> None:
        """Return once Squid says it accepts on both ports and both take a connection."""
        assert self._exited is not None
        wanted = {self.allow_list_port, self.open_port}
        while True:
            if self._exited.done():
                raise ProxyError(f"Squid exited with status {self._exited.result()} while starting")
            log = await asyncio.to_thread(_read_from, self.files.cache_log, log_start)
            if _BIND_FAILED.search(log):
                raise ProxyError("Squid could not open its ports")
            if wanted <= {int(port) for port in _ACCEPTING.findall(log)} and await self._accepting():
                return
            await asyncio.sleep(_POLL)

    async def _accepting(self) -> bool:
        for port in (self.allow_list_port, self.open_port):
            try:
                _, writer = await asyncio.open_connection(self.listen_address, port)
            except OSError:
                return False
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        return True

    async def wait(self) -> int:
        """Squid's exit status once it has exited (stopped, crashed or killed: minus the signal's number).

        The owner awaits this in a task of its own; if it returns while the
        owner still wants the proxy, Squid died and should be restarted.
        """
        if self._exited is None:
            raise ProxyError("the egress proxy was never started")
        return await asyncio.shield(self._exited)

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL after ``STOP_GRACE`` seconds; nothing to do if not running."""
        process, exited = self._process, self._exited
        if process is None or exited is None:
            return
        if not exited.done():
            _signal_group(process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.shield(exited), STOP_GRACE)
            except TimeoutError:
                _signal_group(process.pid, signal.SIGKILL)
        await asyncio.shield(exited)


def _settle(exited: asyncio.Future[int], waited: asyncio.Future[int]) -> None:
    if not exited.done():
        exited.set_result(waited.result())


def _signal_group(pid: int, signum: int) -> None:
    """Signal Squid and anything it started (it leads its own session)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signum)


def _leftover_pid(files: SquidFiles) -> int | None:
    """The pid in Squid's pid file if that process is a Squid started with this run directory's config."""
    try:
        pid = int(files.pid_file.read_text().strip())
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            argv = cmdline.read().split(b"\0")
    except (OSError, ValueError):
        return None
    return pid if str(files.config).encode() in argv else None


def _is_running(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie (a killed leftover is reaped by init, not us)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _read_from(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as file:
            file.seek(offset)
            return file.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""
