"""The peers of the web-app front: nginx as a reverse proxy and static file server, and the load client.

nginx is Debian's, started with a throwaway configuration on 127.0.0.1 (one
worker process, as our front is one process; no access log, as ours keeps
none for visitors): ``/`` proxied to the app's Unix socket over HTTP/1.1 with
pooled keep-alive connections, ``/static/`` served from the same directory
as the app's static mapping.
"""
from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from bench.servers import REPO, ServerFailed

_CONFIG = """
daemon off;
master_process on;
worker_processes 1;
user root;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    types {{ text/plain txt; application/octet-stream bin; }}
    upstream app {{
        server unix:{socket};
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{port};
        server_name _;
        location /static/ {{ alias {static}/; }}
        location / {{
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_buffering off;
        }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Nginx:
    """nginx in the foreground with its own configuration, pid file and temporary directories."""

    def __init__(self, work: Path, app_socket: Path, static: Path) -> None:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(binary).exists():
            raise ServerFailed("nginx is not installed (apt-get install nginx-light)")
        work.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        config = work / "nginx.conf"
        config.write_text(_CONFIG.format(work=work, socket=app_socket, static=static, port=self.port))
        self.version = subprocess.run([binary, "-v"], capture_output=True, text=True).stderr.strip()
        self.process = subprocess.Popen([binary, "-c", str(config), "-p", str(work)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.05)
        self.stop()
        raise ServerFailed(f"nginx did not start: {(work / 'nginx-error.log').read_text(errors='replace')}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def load(target: tuple[str, str], host: str, path: str, connections: int, seconds: float) -> dict[str, object]:
    """``bench/http_load.py`` in a process of its own; its figures, with every latency."""
    flag = "--unix" if target[0] == "unix" else "--tcp"
    result = subprocess.run(
        [sys.executable, "-m", "bench.http_load", flag, target[1], "--host", host, "--path", path,
         "--connections", str(connections), "--seconds", str(seconds), "--raw"],
        cwd=REPO, capture_output=True, text=True, timeout=seconds + 120)
    if result.returncode != 0:
        raise ServerFailed(f"the load client failed: {result.stderr.strip()}")
    figures: dict[str, object] = json.loads(result.stdout)
    return figures


def merged(runs: list[dict[str, object]]) -> dict[str, object]:
    """Rounds of one measurement as one: counts added, quantiles over every latency."""
    latencies = sorted(value for run in runs for value in _floats(run["latencies_ms"]))
    seconds = sum(_floats([run["seconds"] for run in runs]))
    statuses: dict[str, int] = {}
    for run in runs:
        for status, count in _counts(run["statuses"]).items():
            statuses[status] = statuses.get(status, 0) + count
    return {"requests": len(latencies), "seconds": seconds, "rate": len(latencies) / seconds,
            "p50_ms": latencies[len(latencies) // 2], "p99_ms": latencies[int(0.99 * len(latencies))],
            "max_ms": latencies[-1], "errors": sum(_floats([run["errors"] for run in runs])),
            "statuses": statuses, "rounds": len(runs)}


def _floats(values: object) -> list[float]:
    assert isinstance(values, list)
    return [float(value) for value in values]


def _counts(values: object) -> dict[str, int]:
    assert isinstance(values, dict)
    return {str(key): int(value) for key, value in values.items()}
