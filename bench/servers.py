"""Start, watch and stop the servers under test, each in its own process.

All of them get the same environment (an empty home, the same PATH, TERM
and locale), so bash starts the same way under each: ours builds its
consoles' environment itself, and terminado and the floor pass theirs on.
CPU and memory are read with psutil from the server's own processes,
never from the shells it runs.  Ours forks no program itself: the node's
holder (sandbox/holder/) does, and outlives the server; it is counted as
one of the server's own processes, and stopping ours ends its programs
with ``ide serve --stop-all``.  Ours may also run from another checkout
of the repository (``tree``), with that checkout's virtualenv, to compare
two versions of the code side by side.
"""
from __future__ import annotations

import contextlib
import importlib.metadata
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psutil
import tornado

from bench.console_client import BASELINE, FLOOR, OUR_KINDS, OURS, TERMINADO, Account, Target

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


@dataclass(frozen=True)
class SourceTree:
    """A checkout of this repository to run our server from, and the Python that runs it."""

    root: Path
    python: str

    @classmethod
    def of(cls, root: Path) -> SourceTree:
        """``root`` run by its own virtualenv (scripts/setup-env makes one), else by ours."""
        python = root / ".venv" / "bin" / "python"
        return cls(root, str(python) if python.exists() else sys.executable)

    @property
    def has_holder(self) -> bool:
        """Whether this version's programs live in the node's holder (else the server forks them)."""
        return (self.root / "sandbox" / "holder").is_dir()


CURRENT = SourceTree(REPO, sys.executable)


class RunningServer:
    """One server process we started, with what a client needs to reach it."""

    def __init__(self, kind: str, work_dir: Path, argv: list[str], path: str | None = None,
                 cwd: Path | None = None) -> None:
        self.kind = kind
        self.work_dir = work_dir
        self.log_path = work_dir / f"{kind}.log"
        home = work_dir / "home"
        home.mkdir(parents=True, exist_ok=True)
        self.environment = _environment(home)
        if path is not None:
            self.environment["PATH"] = path
        self._log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.started = time.monotonic()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(argv, cwd=cwd or (REPO if kind in OUR_KINDS else home),
                                            env=self.environment, stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        self.port = self._wait_until_listening()
        self.listening = time.monotonic()
        self.accounts: tuple[Account, ...] = ()
        self._main = psutil.Process(self.process.pid)
        self._helpers = [p for p in self._main.children() if p.name() in _SERVICE_HELPERS]

    def _this_run_log(self) -> str:
        """What this process logged (a restarted server appends to the same log)."""
        with open(self.log_path, "rb") as log:
            log.seek(self._log_start)
            return log.read().decode(errors="replace")

    def _wait_until_listening(self) -> int:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            match = _LISTENING.search(self._this_run_log())
            if match:
                return int(match.group(1))
            if self.process.poll() is not None:
                break
            time.sleep(0.005)
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

    @property
    def main(self) -> psutil.Process:
        """The server's own process."""
        return self._main

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

    def _program_parents(self) -> list[psutil.Process]:
        """The processes whose descendants are the users' programs."""
        return [self._main]

    def shells(self) -> list[psutil.Process]:
        """The programs the server runs on its PTYs: bash and whatever bash started.

        The server and its helpers have no controlling terminal (they are
        started in a new session); everything on a console has one.
        """
        shells = []
        for parent in self._program_parents():
            try:
                descendants = parent.children(recursive=True)
            except psutil.NoSuchProcess:
                continue
            for process in descendants:
                try:
                    if process.terminal() is not None:
                        shells.append(process)
                except psutil.NoSuchProcess:
                    continue
        return shells

    def stop(self) -> None:
        """SIGTERM, then SIGKILL; then whatever it started and left behind."""
        leftovers = self._descendants()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(15)
        _kill(leftovers)

    def crash(self) -> None:
        """SIGKILL the server alone, as a crash would end it."""
        self.process.kill()
        self.process.wait(15)

    def _descendants(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []


def _kill(processes: list[psutil.Process]) -> None:
    for process in processes:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(processes, timeout=10)


class OurServer(RunningServer):
    """``ide serve`` on ``work_dir/data``, from ``tree``, and the node's holder it talks to."""

    def __init__(self, work_dir: Path, flags: list[str], tree: SourceTree = CURRENT, kind: str = OURS,
                 path: str | None = None) -> None:
        self.tree = tree
        self.data_dir = work_dir / "data"
        self.flags = flags
        self._holder: psutil.Process | None = None
        argv = [tree.python, "-m", "ide", "serve", "--port", "0", "--data-dir", str(self.data_dir), *flags]
        super().__init__(kind, work_dir, argv, path=path, cwd=tree.root)

    def holder(self) -> psutil.Process | None:
        """The node's holder of this data directory, if this version has one and it runs."""
        if not self.tree.has_holder:
            return None
        if self._holder is not None and self._holder.is_running():
            return self._holder
        directory = str(self.data_dir / "holder")
        self._holder = None
        for process in psutil.process_iter(["cmdline"]):
            cmdline = process.info["cmdline"] or []
            if "sandbox.holder.daemon" in cmdline and directory in cmdline:
                self._holder = process
                break
        return self._holder

    def _service_processes(self) -> list[psutil.Process]:
        holder = self.holder()
        return [*super()._service_processes(), *([holder] if holder is not None else [])]

    def _program_parents(self) -> list[psutil.Process]:
        holder = self.holder()
        return [self._main, *([holder] if holder is not None else [])]

    def stop(self) -> None:
        """SIGTERM; then (the programs outlive the server) ``ide serve --stop-all``; then any leftover."""
        holder = self.holder()
        leftovers = holder.children(recursive=True) if holder is not None else []
        super().stop()
        if holder is None:
            return
        try:
            subprocess.run([self.tree.python, "-m", "ide", "serve", "--stop-all", "--data-dir", str(self.data_dir),
                            *self.flags], cwd=self.tree.root, env=self.environment, capture_output=True,
                           timeout=120)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(psutil.NoSuchProcess):
            leftovers += holder.children(recursive=True)
        _kill([*leftovers, holder])


def still_there(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those not yet gone: a process that has exited but is unreaped (a zombie) still counts."""
    return [p for p in processes if p.is_running()]


def ide_command(work_dir: Path, *args: str, tree: SourceTree = CURRENT) -> str:
    """``ide <args>`` on the data directory of our server in ``work_dir``; its output."""
    data_dir = work_dir / "data"
    result = subprocess.run([tree.python, "-m", "ide", *args, "--data-dir", str(data_dir)],
                            cwd=tree.root, env=_environment(work_dir / "home"), capture_output=True,
                            text=True, timeout=120)
    if result.returncode != 0:
        raise ServerFailed(f"ide {' '.join(args[:2])} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout.strip()


def make_account(work_dir: Path, name: str, account_type: str = "hacker", tree: SourceTree = CURRENT) -> Account:
    """An account on our server in ``work_dir``, made with the CLI, and its API token."""
    ide_command(work_dir, "user", "add", name, "--type", account_type, "--password", secrets.token_hex(16),
                tree=tree)
    return Account(name, ide_command(work_dir, "user", "token", name, tree=tree).splitlines()[-1])


def start_ours(work_dir: Path, *flags: str, sandbox: tuple[str, ...] | None = None, tree: SourceTree = CURRENT,
               kind: str = OURS) -> OurServer:
    """``ide serve`` with ``flags``; without sandboxing (the peers have none) unless ``sandbox`` says how.

    A sandboxed server needs the system's tools too (``useradd`` and the like).
    """
    if sandbox is None:
        return OurServer(work_dir, [*unisolated(work_dir), *flags], tree, kind)
    return OurServer(work_dir, [*sandbox, *flags], tree, kind,
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
    (made once, with the CLI) stay valid.  With a ``baseline`` tree, ours
    also runs from that checkout (kind ``baseline``) on a data directory of
    its own, beside the others.
    """

    def __init__(self, work_dir: Path, accounts: int, baseline: SourceTree | None = None) -> None:
        self.work_dir = work_dir
        self.account_count = accounts
        self.trees = {OURS: CURRENT, **({BASELINE: baseline} if baseline is not None else {})}
        self.accounts: dict[str, tuple[Account, ...]] = {}
        self.servers: dict[str, RunningServer] = {}
        self.problems: list[str] = []

    def start(self) -> dict[str, RunningServer]:
        """Stop whatever runs, then start every kind (making our accounts the first time)."""
        self.stop()
        try:
            for kind in (*self.trees, TERMINADO, FLOOR):
                directory = self.work_dir / kind
                directory.mkdir(parents=True, exist_ok=True)
                self.servers[kind] = (start_ours(directory, tree=self.trees[kind], kind=kind)
                                      if kind in OUR_KINDS else _start_peer(kind, directory))
            for kind, tree in self.trees.items():
                if kind not in self.accounts:
                    self.accounts[kind] = self._make_accounts(self.work_dir / kind, tree)
                self.servers[kind].accounts = self.accounts[kind]
        except BaseException:
            self.stop()
            raise
        return self.servers

    def _make_accounts(self, directory: Path, tree: SourceTree) -> tuple[Account, ...]:
        with ThreadPoolExecutor(4) as pool:
            return tuple(pool.map(lambda i: make_account(directory, f"bench{i}", tree=tree),
                                  range(self.account_count)))

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
