"""PythonAnywhere's own client library, unmodified, against this server.

``pythonanywhere_core`` only speaks HTTPS to ``https://$PYTHONANYWHERE_SITE``,
so the test puts a small TLS front (a self-signed certificate for 127.0.0.1,
trusted through ``REQUESTS_CA_BUNDLE``) before the real server, as a
deployment's proxy would be.
"""
from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server import ROOT


class TlsFront:
    """Terminates TLS on a loopback port and passes the bytes on to ``backend_port``."""

    def __init__(self, backend_port: int, cert: Path, key: Path) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.backend_port = backend_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            secure = self.context.wrap_socket(client, server_side=True)
        except (ssl.SSLError, OSError):
            client.close()
            return
        backend = socket.create_connection(("127.0.0.1", self.backend_port))
        threading.Thread(target=self._pump, args=(backend, secure), daemon=True).start()
        self._pump(secure, backend)

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.listener.close()


@pytest.fixture(scope="module")
def tls_front(ide_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TlsFront, Path]]:
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    front = TlsFront(ide_server.port, cert, key)
    yield front, cert
    front.close()


CLIENT = """
import json, sys
from pythonanywhere_core.students import StudentsAPI
api = StudentsAPI()
listed = api.get()
removed = api.delete(sys.argv[1])
try:
    api.delete("nosuchuser_x9")
    missing = "deleted?"
except Exception as exc:
    missing = str(exc)
print(json.dumps({"listed": listed, "removed": removed, "missing": missing, "url": api.base_url}))
"""


def test_the_students_client_lists_and_removes_a_student(ide_server, tls_front):
    front, cert = tls_front
    teacher = ide_server.add_user("teach", account_type="hacker")
    student = ide_server.add_user("kid", teacher=teacher)
    token = ide_server.cli("user", "token", teacher).stdout.strip()
    env = {**os.environ, "API_TOKEN": token, "PYTHONANYWHERE_USERNAME": teacher,
           "PYTHONANYWHERE_SITE": f"127.0.0.1:{front.port}", "REQUESTS_CA_BUNDLE": str(cert)}
    result = subprocess.run([sys.executable, "-c", CLIENT, student], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["url"] == f"https://127.0.0.1:{front.port}/api/v0/user/{teacher}/students/"
    assert {"username": student} in answer["listed"]["students"] + answer["listed"].get("pending", [])
    assert answer["removed"] == 204
    assert "not one of your students" in answer["missing"]
    assert student not in ide_server.redis_call("SMEMBERS", f"ide:teacher:{teacher}:students")
