"""The server says where it really listens, and scripts/serve does not guess."""
from __future__ import annotations

import os
import re
import subprocess
import threading
import urllib.request
from pathlib import Path

from tests.server import ROOT, UNISOLATED, ServerProcess


def _fetch_login_page(url: str) -> str:
    with urllib.request.urlopen(url + "login/", timeout=30) as response:
        return response.read().decode()


def test_serve_on_port_0_prints_the_port_it_got(server_data_dir: Path):
    server = ServerProcess(server_data_dir, *UNISOLATED, "--address", "127.0.0.2").start()
    try:
        printed = re.search(r"Listening on (http://\S+/)", "".join(server.output)).group(1)  # type: ignore[union-attr]
        assert printed == f"http://127.0.0.2:{server.port}/" and server.port != 0
        assert "Log in" in _fetch_login_page(printed)
    finally:
        server.stop()


def test_scripts_serve_prints_no_address_but_the_servers(server_data_dir: Path):
    env = {**os.environ, "IDE_DATA_DIR": str(server_data_dir), "IDE_VENV": str(ROOT / ".venv"),
           "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([str(ROOT / "scripts" / "serve"), "--port", "0", *UNISOLATED],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    lines: list[str] = []
    listening = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Listening on http"):
                listening.set()
        listening.set()

    threading.Thread(target=pump, daemon=True).start()
    try:
        assert listening.wait(240), "".join(lines)
        output = "".join(lines)
        addresses = re.findall(r"http://[^\s/]+", output)
        match = re.search(r"Listening on (http://127\.0\.0\.1:(\d+)/)", output)
        assert match, output
        # The one address printed is the one the server bound (not the default port 8000).
        assert set(addresses) == {match.group(1).rstrip("/")}, output
        assert "Log in" in _fetch_login_page(match.group(1))
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
