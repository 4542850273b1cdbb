"""A real external Redis as docs/deploy.md asks for one: TLS only, ACL users with passwords
(the default user off), client certificates.

Debian's Redis (built with TLS) runs from the ``redis-tools`` package, which
holds the server binary without the ``redis-server`` package's service: its
one binary acts as the server when started under the name ``redis-server``.
Certificates are made for each run with ``openssl``; the port is a free one
on 127.0.0.1.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import redis

USER = "ide"
PASSWORD = "ide-test-password-81c3f0e2b7"
ADMIN_PASSWORD = "ide-test-admin-password-5d09a6"
# Debian's redis-tools: the server under another name (redis-server is a symlink to it).
_MULTI_CALL_BINARY = "/usr/bin/redis-check-rdb"

_CONFIG = """\
port 0
bind 127.0.0.1
tls-port {port}
tls-cert-file {dir}/server.pem
tls-key-file {dir}/server.key
tls-ca-cert-file {dir}/ca.pem
tls-auth-clients yes
user default off
user {user} on >{password} ~ide:* &ide:* +@all -@admin -@dangerous
user admin on >{admin_password} ~* &* +@all
save ""
appendonly no
dir {dir}
logfile {dir}/redis.log
"""


def _redis_server() -> tuple[str, str]:
    """(executable, argv[0]) of a redis-server with TLS."""
    found = shutil.which("redis-server")
    if found:
        return found, "redis-server"
    if os.access(_MULTI_CALL_BINARY, os.X_OK):
        return _MULTI_CALL_BINARY, "redis-server"
    raise RuntimeError("these tests need Debian's Redis: apt-get install redis-tools (scripts/test does)")


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True, timeout=60)


def make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    """A new certificate authority: (certificate, key)."""
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", key, "-out", cert, "-days", "2", "-subj", f"/CN={name}")
    return cert, key


def issue(directory: Path, name: str, ca: tuple[Path, Path], extensions: str) -> tuple[Path, Path]:
    """A certificate for ``name`` signed by ``ca``: (certificate, key)."""
    cert, key, request = directory / f"{name}.pem", directory / f"{name}.key", directory / f"{name}.csr"
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", key, "-out", request, "-subj", f"/CN={name}")
    extfile = directory / f"{name}.ext"
    extfile.write_text(extensions + "\n")
    _openssl("x509", "-req", "-in", request, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial",
             "-out", cert, "-days", "2", "-extfile", extfile)
    return cert, key


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class TlsRedis:
    """A running TLS Redis with an ACL user; ``url`` carries its name and password."""

    directory: Path
    port: int
    process: subprocess.Popen[bytes]

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def client_cert(self) -> Path:
        return self.directory / "client.pem"

    @property
    def client_key(self) -> Path:
        return self.directory / "client.key"

    def url(self, password: str | None = PASSWORD, user: str = USER) -> str:
        auth = f"{user}:{password}@" if password is not None else ""
        return f"rediss://{auth}127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        """A client with the user's password and a client certificate (anything that reached Redis)."""
        return redis.Redis.from_url(self.url(), ssl_ca_certs=str(self.ca), ssl_certfile=str(self.client_cert),
                                    ssl_keyfile=str(self.client_key), decode_responses=True)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


def start_tls_redis() -> TlsRedis:
    """Certificates (a CA, the server's for 127.0.0.1, a client's), then Redis with TLS only."""
    directory = Path(tempfile.mkdtemp(prefix="ide-tls-redis-"))
    ca = make_ca(directory, "ca")
    issue(directory, "server", ca, "subjectAltName=IP:127.0.0.1")
    issue(directory, "client", ca, "extendedKeyUsage=clientAuth")
    port = free_port()
    config = directory / "redis.conf"
    config.write_text(_CONFIG.format(port=port, dir=directory, user=USER, password=PASSWORD,
                                      admin_password=ADMIN_PASSWORD))
    executable, name = _redis_server()
    process = subprocess.Popen([name, str(config)], executable=executable, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = TlsRedis(directory, port, process)
    deadline = time.monotonic() + 30
    with server.client() as client:
        while True:
            try:
                client.ping()
                return server
            except redis.ConnectionError as exc:
                if process.poll() is not None or time.monotonic() > deadline:
                    log = (directory / "redis.log").read_text() if (directory / "redis.log").exists() else ""
                    server.stop()
                    raise RuntimeError(f"the TLS Redis did not start:\n{log}") from exc
                time.sleep(0.05)  # outside any IOLoop: waiting for the child to listen
