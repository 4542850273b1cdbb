"""The ``ide`` command: accounts, and one-line errors for what goes wrong at start-up."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from ide.server import check_data_dir
from tests.server import ROOT, UNISOLATED, ServerProcess


def run_ide(*args: str, input: str | None = None, env: dict[str, str] | None = None):
    return subprocess.run([sys.executable, "-m", "ide", *args], cwd=ROOT, input=input, text=True,
                          capture_output=True, timeout=60, env={**os.environ, **(env or {})})


def test_user_commands(ide_server):
    name = ide_server.add_user("cli")
    listed = ide_server.cli("user", "list").stdout
    assert name in listed and "free" in listed
    ide_server.cli("user", "set", name, "--type", "hacker")
    assert any(line.split()[:2] == [name, "hacker"] for line in ide_server.cli("user", "list").stdout.splitlines())
    taken = ide_server.cli("user", "add", name.upper(), "--password", "whatever1", check=False)
    assert taken.returncode == 1 and taken.stderr.strip() == f"ide: error: the username '{name}' is taken"
    bad = ide_server.cli("user", "add", "9lives", "--password", "whatever1", check=False)
    assert bad.returncode == 1 and "invalid username '9lives'" in bad.stderr
    no_password = ide_server.cli("user", "add", "nopass_user", check=False)
    assert no_password.returncode == 1 and "pass --password" in no_password.stderr
    missing = ide_server.cli("user", "token", "nobody_zz", check=False)
    assert missing.returncode == 1 and "no user named 'nobody_zz'" in missing.stderr


def test_taken_port_is_one_clear_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_ide("serve", "--port", str(port), "--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"ide: error: port {port} on 127.0.0.1 is already in use; stop the other server or choose another --port")


def test_unwritable_data_dir_is_one_clear_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = run_ide("serve", "--port", "0", "--data-dir", str(blocker / "data"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(
        f"ide: error: the data directory {blocker / 'data'} is not writable")


def test_commands_checking_one_data_dir_at_once_do_not_trip_each_other(tmp_path):
    data_dir = tmp_path / "data"
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: check_data_dir(data_dir), range(400)))
    assert list(data_dir.iterdir()) == []


def test_unreachable_redis_is_one_clear_line(tmp_path):
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    secret = tmp_path / "node-secret"
    secret.write_text("x" * 64)
    secret.chmod(0o600)
    result = run_ide("serve", "--port", "0", "--data-dir", str(tmp_path), "--redis-url", f"redis://127.0.0.1:{port}/0",
                     "--node-secret-file", str(secret))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(f"ide: error: cannot reach Redis at redis://127.0.0.1:{port}/0")
    assert f"Redis at redis://127.0.0.1:{port}/0 is reached without TLS and a password" in result.stderr


def test_flags_come_from_the_environment_too(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_ide("serve", env={"IDE_PORT": str(port), "IDE_DATA_DIR": str(tmp_path)})
    assert result.returncode == 1 and f"port {port} on 127.0.0.1 is already in use" in result.stderr


def test_restart_keeps_accounts_and_tokens(server_data_dir):
    first = ServerProcess(server_data_dir, *UNISOLATED).start()
    try:
        name = first.add_user("keep")
        token = first.cli("user", "token", name).stdout.strip()
    finally:
        first.stop()
    redis_dir = server_data_dir / "redis"
    assert (redis_dir / "appendonly.aof").exists() or (redis_dir / "appendonlydir").exists()
    second = ServerProcess(server_data_dir, *UNISOLATED).start()
    try:
        import urllib.request
        request = urllib.request.Request(f"{second.url}/api/v0/user/{name}/teacher/",
                                         headers={"Authorization": f"Token {token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200
        assert name in second.cli("user", "list").stdout
    finally:
        second.stop()


@pytest.mark.parametrize("flag", ["--help"])
def test_serve_help_lists_every_flag(flag):
    out = run_ide("serve", flag).stdout
    for option in ("--port", "--address", "--data-dir", "--redis-url", "--allow-signup", "--secure-cookies"):
        assert option in out
