"""gunicorn against uWSGI for hosting users' WSGI apps: requests/s, memory, reload time.

Each server runs one hello-world WSGI app on a Unix socket, the way the
front reaches web apps, with one worker (a free account's share).  A client
of 32 concurrent connections sends HTTP/1.0 requests for ``--seconds``.
Memory is the PSS of the server's whole process tree once it has answered;
reload time is from the reload signal (SIGHUP for both) until a request
answers from a new worker.  Run: ``.venv/bin/python bench/bench_webapps.py``
(needs ``gunicorn`` in the virtualenv and Debian's ``uwsgi-core`` with
``uwsgi-plugin-python3``).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

APP = '''
import os
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("hello from %d" % os.getpid()).encode()]
'''
REQUEST = b"GET / HTTP/1.0\r\nHost: bench.localhost\r\n\r\n"


def gunicorn_argv(directory: Path, socket: Path) -> list[str]:
    return [sys.executable, "-m", "gunicorn", "--workers", "1", "--bind", f"unix:{socket}",
            "--chdir", str(directory), "app:application"]


def uwsgi_argv(directory: Path, socket: Path) -> list[str]:
    return ["uwsgi", "--plugin", "python3", "--master", "--processes", "1", "--http-socket", str(socket),
            "--chdir", str(directory), "--wsgi-file", str(directory / "app.py"), "--disable-logging",
            "--die-on-term", "--lazy-apps"]


async def fetch(socket: Path) -> bytes:
    reader, writer = await asyncio.open_unix_connection(str(socket))
    writer.write(REQUEST)
    data = await reader.read()
    writer.close()
    return data


async def wait_ready(socket: Path) -> None:
    while True:
        try:
            if b"hello" in await fetch(socket):
                return
        except OSError:
            pass
        await asyncio.sleep(0.01)


async def throughput(socket: Path, seconds: float, concurrency: int = 32) -> float:
    done = 0
    deadline = time.monotonic() + seconds

    async def client() -> None:
        nonlocal done
        while time.monotonic() < deadline:
            await fetch(socket)
            done += 1

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return done / seconds


def tree_pss_mib(pid: int) -> float:
    root = psutil.Process(pid)
    return sum(p.memory_full_info().pss for p in [root, *root.children(recursive=True)]) / 2**20


async def reload_seconds(process: subprocess.Popen[bytes], socket: Path) -> float:
    before = await fetch(socket)
    started = time.monotonic()
    process.send_signal(signal.SIGHUP)
    while True:
        try:
            answer = await fetch(socket)
            if b"hello" in answer and answer.split()[-1] != before.split()[-1]:
                return time.monotonic() - started
        except OSError:
            pass
        await asyncio.sleep(0.005)


async def measure(name: str, argv: list[str], socket: Path, seconds: float) -> None:
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        started = time.monotonic()
        await wait_ready(socket)
        start_time = time.monotonic() - started
        rate = await throughput(socket, seconds)
        memory = tree_pss_mib(process.pid)
        reload_time = await reload_seconds(process, socket)
        print(f"{name:9} start {start_time:5.2f} s  {rate:7.0f} req/s  PSS {memory:5.1f} MiB  "
              f"reload {reload_time:5.2f} s")
    finally:
        process.terminate()
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        (directory / "app.py").write_text(APP)
        os.chmod(directory, 0o755)
        asyncio.run(measure("gunicorn", gunicorn_argv(directory, directory / "g.sock"), directory / "g.sock",
                            args.seconds))
        asyncio.run(measure("uwsgi", uwsgi_argv(directory, directory / "u.sock"), directory / "u.sock",
                            args.seconds))


if __name__ == "__main__":
    main()
