"""A real ``ide serve`` on a loopback port, with its own data directory."""
from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import redis

ROOT = Path(__file__).resolve().parent.parent

UNISOLATED = ("--sandbox", "off", "--unsafe-no-isolation")
"""Flags for a server without per-user isolation.  As root (the CI) users'
programs then run as one unprivileged account, which must reach the homes:
give such a server a data directory from ``reachable_dir`` (pytest's own
temporary directories are private to root)."""


PROXY_DNS = ("--egress-dns-server", "127.0.0.1")
"""For an isolated server: its egress proxy asks nothing of the machine's resolver
(Squid looks its clients up in reverse); nothing answers DNS on the loopback."""


def reachable_dir(prefix: str) -> Path:
    """A new empty directory under /tmp that other accounts may search (not list)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o711)
    return path


class ServerProcess:
    """Starts the server as a child process and waits until it listens."""

    def __init__(self, data_dir: Path, *extra_args: str, env: dict[str, str] | None = None,
                 cwd: Path = ROOT) -> None:
        self.data_dir = data_dir
        self.cwd = cwd
        self.extra_args = extra_args
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.process: subprocess.Popen[str] | None = None
        # 0: any free port; a restart that browsers must find again sets the port it had.
        self.requested_port = 0
        self.url = ""
        self.port = 0
        self.output: list[str] = []

    def start(self, timeout: float = 30.0) -> ServerProcess:
        manifest = ROOT / "static" / "js" / "dist" / "manifest.json"
        if not manifest.exists():
            raise RuntimeError("the front end is not built: run `npm ci && npm run build` first")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ide", "serve", "--port", str(self.requested_port), "--data-dir", str(self.data_dir),
             *self.extra_args],
            cwd=self.cwd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        ready = threading.Event()

        def pump() -> None:
            assert self.process and self.process.stdout
            for line in self.process.stdout:
                self.output.append(line)
                match = re.search(r"Listening on (http://[\d.]+:(\d+))/", line)
                if match:
                    self.url, self.port = match.group(1), int(match.group(2))
                    ready.set()
            ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(timeout) or not self.url:
            self.stop(keep_programs=True)  # another server's programs may be in the data directory
            raise RuntimeError("the server did not start:\n" + "".join(self.output))
        return self

    def stop(self, *, keep_programs: bool = False) -> None:
        """SIGTERM, as an upgrade would; users' programs outlive the server, so unless
        ``keep_programs`` they are then ended with ``ide serve --stop-all``."""
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        if not keep_programs:
            self.stop_programs()

    def crash(self) -> None:
        """SIGKILL the server (its programs stay with the node's holder)."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()
        self.process = None

    def holder(self) -> psutil.Process:
        """The node's holder: the parent of this server's users' programs."""
        (holder,) = [process for process in psutil.process_iter(["cmdline"])
                     if "sandbox.holder.daemon" in " ".join(process.info["cmdline"] or [])
                     and str(self.data_dir) in " ".join(process.info["cmdline"] or [])]
        return holder

    def stop_programs(self) -> str:
        """``ide serve --stop-all`` with this server's flags: its programs outlive it otherwise."""
        return self.cli("serve", "--stop-all", *self.extra_args).stdout

    def cli(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``ide <args> --data-dir <this server's>`` (sharing its Redis)."""
        result = subprocess.run([sys.executable, "-m", "ide", *args, "--data-dir", str(self.data_dir)],
                                cwd=ROOT, env=self.env, input=input, capture_output=True, text=True,
                                timeout=60)
        if check and result.returncode != 0:
            raise AssertionError(f"ide {' '.join(args)} failed: {result.stderr}")
        return result

    def redis(self) -> redis.Redis:
        """A plain client on this server's embedded Redis (to inspect state)."""
        config = (self.data_dir / "redis" / "redis.conf").read_text()
        socket_path = re.search(r"^unixsocket (.+)$", config, re.M).group(1)  # type: ignore[union-attr]
        return redis.Redis(unix_socket_path=socket_path, decode_responses=True)

    def redis_call(self, *command: str) -> Any:
        with self.redis() as client:
            return client.execute_command(*command)

    def add_user(self, prefix: str = "u", account_type: str = "free", teacher: str | None = None,
                 password: str = "correct horse") -> str:
        """A new account with a unique name; returns the name."""
        name = f"{prefix}{secrets.token_hex(3)}"
        args = ["user", "add", name, "--type", account_type, "--password", password]
        if teacher:
            args += ["--teacher", teacher]
        self.cli(*args)
        return name


@contextmanager
def unisolated_server(*extra_args: str) -> Iterator[ServerProcess]:
    """A started server without isolation (the unsafe flag, as root requires) on a fresh
    reachable data directory; stopped and removed afterwards."""
    data_dir = reachable_dir("ide-test-data-")
    try:
        server = ServerProcess(data_dir, *UNISOLATED, *extra_args).start()
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
