"""Start, watch and stop the three servers under test, each in its own process.

All three get the same environment (an empty home, the same PATH, TERM
and locale), so bash starts the same way under each: ours builds its
consoles' environment itself, and terminado and the floor pass theirs on.
CPU and memory are read with psutil from the server's own processes,
never from the shells it runs.
"""
from __future__ import annotations

import importlib.metadata
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import tornado

from bench.console_client import FLOOR, OURS, TERMINADO, Account, Target

REPO = Path(__file__).resolve().parent.parent
PEER_SCRIPTS = {TERMINADO: REPO / "bench" / "peer_terminado.py", FLOOR: REPO / "bench" / "peer_floor.py"}
_LISTENING = re.compile(r"Listening on http://127\.0\.0\.1:(\d+)/")
_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d [\d:,.]+ ")
# Console ids, user names in URLs and request times, so that one kind of error counts as one line.
_VARYING = re.compile(r"\b[0-9a-f]{8,}\b|(?<=/user/)[^/]+|\b\d+(\.\d+)?ms\b")
START_TIMEOUT = 60.0
# Helper processes that are part of a server rather than a user's program.
_SERVICE_HELPERS = {"redis-server"}


class ServerFailed(Exception):
    """A server did not start or stop as expected; the message quotes its log."""


def _environment(home: Path) -> dict[str, str]:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "USER": "root",
            "LOGNAME": "root", "SHELL": "/bin/bash", "TERM": "xterm-256color",
            "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


class RunningServer:
    """One server process we started, with what a client needs to reach it."""

    def __init__(self, kind: str, work_dir: Path, argv: list[str], path: str | None = None,
                 source: Path = REPO) -> None:
        self.kind = kind
        self.work_dir = work_dir
        self.log_path = work_dir / f"{kind}.log"
        home = work_dir / "home"
        home.mkdir(parents=True, exist_ok=True)
        self.environment = _environment(home)
        if path is not None:
            self.environment["PATH"] = path
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(argv, cwd=home if kind != OURS else source, env=self.environment,
                                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        self.port = self._wait_until_listening()
        self.accounts: tuple[Account, ...] = ()
        self._main = psutil.Process(self.process.pid)
        self._helpers = [p for p in self._main.children() if p.name() in _SERVICE_HELPERS]

    def _wait_until_listening(self) -> int:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            match = _LISTENING.search(self.log_path.read_text(errors="replace"))
            if match:
                return int(match.group(1))
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise ServerFailed(f"{self.kind} did not start listening:\n{self.log_tail()}")

    @property
    def target(self) -> Target:
        return Target(self.kind, self.port, self.accounts)

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def problems(self) -> list[str]:
        """What went wrong inside the server, from its log: each error line once, with a count, most first.

        An error line is a logged ERROR, or the last line of a traceback.
        """
        counts: dict[str, int] = {}
        lines = self.log_path.read_text(errors="replace").splitlines()
        for previous, line in zip([""] + lines, lines, strict=False):
            ends_traceback = previous.startswith("  ") and not line.startswith((" ", "Traceback"))
            if ends_traceback or re.search(r"\bERROR\b", line):
                key = _VARYING.sub("…", _TIMESTAMP.sub("", line))[:300]
                counts[key] = counts.get(key, 0) + 1
        return [f"{count}× {line}" for line, count in sorted(counts.items(), key=lambda item: -item[1])]

    def alive(self) -> bool:
        return self.process.poll() is None

    def _service_processes(self) -> list[psutil.Process]:
        return [self._main, *self._helpers]

    def cpu_seconds(self) -> float:
        """User + system CPU of the server (every thread) and its helpers, not its shells."""
        total = 0.0
        for process in self._service_processes():
            times = process.cpu_times()
            total += times.user + times.system
        return total

    def rss_bytes(self) -> int:
        return sum(p.memory_info().rss for p in self._service_processes())

    def shells(self) -> list[psutil.Process]:
        """The programs the server runs on its PTYs: bash and whatever bash started.

        The server and its helpers have no controlling terminal (they are
        started in a new session); everything on a console has one.
        """
        shells = []
        for process in self._main.children(recursive=True):
            try:
                if process.terminal() is not None:
                    shells.append(process)
            except psutil.NoSuchProcess:
                continue
        return shells

    def stop(self) -> None:
        """SIGTERM, then SIGKILL; then whatever it started and left behind."""
        try:
            leftovers = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            leftovers = []
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(15)
        for process in leftovers:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                continue
        psutil.wait_procs(leftovers, timeout=10)


def still_there(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those not yet gone: a process that has exited but is unreaped (a zombie) still counts."""
    return [p for p in processes if p.is_running()]


def ide_command(work_dir: Path, *args: str) -> str:
    """``ide <args>`` on the data directory of our server in ``work_dir``; its output."""
    data_dir = work_dir / "data"
    result = subprocess.run([sys.executable, "-m", "ide", *args, "--data-dir", str(data_dir)],
                            cwd=REPO, env=_environment(work_dir / "home"), capture_output=True,
                            text=True, timeout=120)
    if result.returncode != 0:
        raise ServerFailed(f"ide {' '.join(args[:2])} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout.strip()


def make_account(work_dir: Path, name: str, account_type: str = "hacker") -> Account:
    """An account on our server in ``work_dir``, made with the CLI, and its API token."""
    ide_command(work_dir, "user", "add", name, "--type", account_type, "--password", secrets.token_hex(16))
    return Account(name, ide_command(work_dir, "user", "token", name).splitlines()[-1])


def start_ours(work_dir: Path, *flags: str, sandbox: tuple[str, ...] | None = None,
               source: Path = REPO) -> RunningServer:
    """``ide serve`` with ``flags``; without sandboxing (the peers have none) unless ``sandbox`` says how.

    A sandboxed server needs the system's tools too (``useradd`` and the like).
    ``source``: the checkout whose code runs (another version of this repository, to compare).
    """
    argv = [sys.executable, "-m", "ide", "serve", "--port", "0", "--data-dir", str(work_dir / "data")]
    if sandbox is None:
        return RunningServer(OURS, work_dir, [*argv, *unisolated(work_dir), *flags], source=source)
    return RunningServer(OURS, work_dir, [*argv, *sandbox, *flags],
                         path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")


def unisolated(work_dir: Path) -> tuple[str, ...]:
    """The flags that run our server without sandboxing, as the peers run.

    As root that takes the explicit unsafe flag, and programs then run as one
    unprivileged account, which must be able to reach the data directory.
    """
    if os.geteuid() != 0:
        return ("--sandbox", "off")
    for directory in (work_dir, *work_dir.parents):
        if not directory.stat().st_mode & 0o001:  # e.g. mkdtemp's 0700 above a fresh 0755
            os.chmod(directory, 0o711)
    return ("--sandbox", "off", "--unsafe-no-isolation")


def _start_peer(kind: str, work_dir: Path) -> RunningServer:
    return RunningServer(kind, work_dir, [sys.executable, str(PEER_SCRIPTS[kind]), "--port", "0"])


class ServerSet:
    """One server of each kind; restarted between measurements that need fresh processes.

    Our service keeps its data directory across restarts, so its accounts
    (made once, with the CLI) stay valid.
    """

    def __init__(self, work_dir: Path, accounts: int) -> None:
        self.work_dir = work_dir
        self.account_count = accounts
        self.accounts: tuple[Account, ...] = ()
        self.servers: dict[str, RunningServer] = {}
        self.problems: list[str] = []

    def start(self) -> dict[str, RunningServer]:
        """Stop whatever runs, then start all three (making our accounts the first time)."""
        self.stop()
        try:
            for kind in (OURS, TERMINADO, FLOOR):
                directory = self.work_dir / kind
                directory.mkdir(parents=True, exist_ok=True)
                self.servers[kind] = start_ours(directory) if kind == OURS else _start_peer(kind, directory)
            if not self.accounts:
                with ThreadPoolExecutor(4) as pool:
                    self.accounts = tuple(pool.map(
                        lambda i: make_account(self.work_dir / OURS, f"bench{i}"), range(self.account_count)))
            self.servers[OURS].accounts = self.accounts
        except BaseException:
            self.stop()
            raise
        return self.servers

    def stop(self) -> None:
        """Stop every server, keeping what their logs say went wrong."""
        for kind, server in self.servers.items():
            server.stop()
            self.problems += [f"{kind}: {line}" for line in server.problems()]
        self.servers = {}


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {"cpus": str(len(os.sched_getaffinity(0))), "cpu_model": model,
            "python": sys.version.split()[0], "tornado": tornado.version,
            "terminado": importlib.metadata.version("terminado")}
