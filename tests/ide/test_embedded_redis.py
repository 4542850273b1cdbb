"""The embedded Redis and the node secret: only the server's own account reaches them."""
from __future__ import annotations

import re
import stat
import subprocess
from pathlib import Path

import psutil

from tests.server import UNISOLATED, ServerProcess

# Run as another account (a user's program, say): what can it do to the server's Redis?
_PROBE = """
import socket, sys
socket_path, aof, secret = sys.argv[1:]
def attempt(what, action):
    try:
        action()
        return what + ":allowed"
    except PermissionError:
        return what + ":refused"
def connect():
    with socket.socket(socket.AF_UNIX) as client:
        client.connect(socket_path)
print(attempt("connect", connect), attempt("aof", lambda: open(aof, "rb").read(1)),
      attempt("secret", lambda: open(secret, "rb").read(1)))
"""


def as_nobody(*args: str) -> str:
    result = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--inh-caps=-all",
                             "/usr/bin/python3", "-c", _PROBE, *args],
                            capture_output=True, text=True, timeout=30, cwd="/")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_another_account_can_neither_connect_nor_read_the_files(server_data_dir):
    # A data directory restored from a backup (or made by hand) with an open redis/ in it.
    redis_dir = server_data_dir / "redis"
    redis_dir.mkdir(mode=0o755)
    redis_dir.chmod(0o755)
    server = ServerProcess(server_data_dir, *UNISOLATED).start()
    try:
        server.add_user("aof")  # something in the append-only file
        config = (redis_dir / "redis.conf").read_text()
        socket_path = Path(re.search(r"^unixsocket (.+)$", config, re.M).group(1))  # type: ignore[union-attr]
        aof, secret = redis_dir / "appendonly.aof", server_data_dir / "node-secret"
        assert re.search(r"^port 0$", config, re.M)
        pid = int((redis_dir / "redis.pid").read_text())
        assert psutil.Process(pid).net_connections(kind="inet") == []  # no TCP at all
        assert (mode(redis_dir), mode(socket_path), mode(aof), mode(redis_dir / "redis.log"), mode(secret)) == (
            0o700, 0o700, 0o600, 0o600, 0o600)
        assert as_nobody(str(socket_path), str(aof), str(secret)) == "connect:refused aof:refused secret:refused"
        # The node secret lives in the data directory only, never in Redis.
        assert secret.read_text().strip().encode() not in aof.read_bytes()
    finally:
        server.stop()
