"""A TLS front for PythonAnywhere's clients, which only speak HTTPS.

Terminates TLS on a loopback port with a self-signed certificate for
127.0.0.1 (trusted through ``REQUESTS_CA_BUNDLE``) and passes the bytes on
to the real server, as a deployment's proxy would.
"""
from __future__ import annotations

import os
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


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


@contextmanager
def tls_front_for(backend_port: int, directory: Path) -> Iterator[tuple[TlsFront, Path]]:
    """A running front for ``backend_port`` and the certificate to trust."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    front = TlsFront(backend_port, cert, key)
    try:
        yield front, cert
    finally:
        front.close()


def client_environment(front: TlsFront, cert: Path, username: str, token: str) -> dict[str, str]:
    """What PythonAnywhere's clients read: their site, user, token and CA."""
    return {**os.environ, "API_TOKEN": token, "PYTHONANYWHERE_USERNAME": username, "USER": username,
            "LOGNAME": username, "PYTHONANYWHERE_SITE": f"127.0.0.1:{front.port}",
            "REQUESTS_CA_BUNDLE": str(cert), "NO_COLOR": "1", "COLUMNS": "200"}
