"""Request bodies are capped before anyone is authenticated: a stranger cannot
make the server hold megabytes, while a logged-in user's upload still streams."""
from __future__ import annotations

import asyncio
import json
import socket
import uuid
from pathlib import Path

import pytest
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from ide.web.fallbacks import BODY_LIMIT
from tests.client import Client

MiB = 1024 * 1024


def _rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))


def send_headers(server, method: str, path: str, length: int, headers: str = "") -> socket.socket:
    """A connection that has sent a request's headers and none of its body."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                 f"Content-Length: {length}\r\n{headers}\r\n".encode())
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes; a socket timeout means it
    kept the connection open, waiting for the body."""
    received = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk


def _send_body(sock: socket.socket, size: int) -> bool:
    """Sends ``size`` bytes; False when the server closed the connection first."""
    block = b"a" * MiB
    try:
        for start in range(0, size, MiB):
            sock.sendall(block[:min(MiB, size - start)])
    except (BrokenPipeError, ConnectionResetError):
        return False
    return True


@pytest.mark.parametrize("path, kind", [("/login/", "text/html"), ("/signup/", "text/html"),
                                        ("/api/v0/user/nobody/consoles/", "application/json"),
                                        ("/consoles/sockjs/000/abcdefgh/xhr_send", "")])
def test_a_big_body_is_refused_from_its_headers(ide_server, path, kind):
    sock = send_headers(ide_server, "POST", path, 5 * MiB,
                 "Content-Type: application/x-www-form-urlencoded\r\n")
    with sock:
        answer = read_until_closed(sock)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), answer[:300]
    if kind:
        assert f"Content-Type: {kind}".encode() in head
        assert b"at most" in body


def test_big_bodies_do_not_grow_the_servers_memory(ide_server):
    pid = ide_server.process.pid
    before = _rss_kib(pid)
    held = []
    try:
        for _ in range(4):
            sock = send_headers(ide_server, "POST", "/login/", 8 * MiB,
                         "Content-Type: application/x-www-form-urlencoded\r\n")
            held.append(sock)
            # All but the last byte: a server that reads bodies before checking
            # anything now holds this one in memory, waiting for the rest.
            assert not _send_body(sock, 8 * MiB - 1), "the server read a body it had no use for"
        grown = _rss_kib(pid) - before
    finally:
        for sock in held:
            sock.close()
    assert grown < 12 * 1024, f"the server grew by {grown} KiB"


def test_an_unauthenticated_upload_is_refused_before_its_body(ide_server):
    name = ide_server.add_user("upl")
    boundary = uuid.uuid4().hex
    sock = send_headers(ide_server, "POST", f"/api/v0/user/{name}/files/path/home/{name}/big.bin", 4 * MiB,
                 f"Content-Type: multipart/form-data; boundary={boundary}\r\n")
    with sock:
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 401"), answer[:300]
    assert not (ide_server.data_dir / "home" / name / "big.bin").exists()


def test_an_upload_into_someone_elses_home_is_refused_before_its_body(ide_server):
    owner, intruder = ide_server.add_user("own"), ide_server.add_user("int")
    token = ide_server.cli("user", "token", intruder).stdout.strip()
    boundary = uuid.uuid4().hex
    sock = send_headers(ide_server, "POST", f"/api/v0/user/{owner}/files/path/home/{owner}/big.bin",
                        4 * MiB, f"Authorization: Token {token}\r\n"
                        f"Content-Type: multipart/form-data; boundary={boundary}\r\n")
    with sock:
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 403"), answer[:300]
    assert not (ide_server.data_dir / "home" / owner / "big.bin").exists()


@pytest.mark.gen_test(timeout=60)
async def test_an_authenticated_upload_of_a_few_megabytes_works(ide_server):
    name = ide_server.add_user("upl", account_type="hacker")
    api = Client(ide_server.url, token=ide_server.cli("user", "token", name).stdout.strip())
    content = bytes(range(256)) * (3 * BODY_LIMIT // 256)
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"content\"; filename=\"big.bin\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + content + \
        f"\r\n--{boundary}--\r\n".encode()
    response = await api.request("POST", f"/api/v0/user/{name}/files/path/home/{name}/big.bin",
                                 raw_body=body,
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert response.status == 201, response.text
    assert (ide_server.data_dir / "home" / name / "big.bin").read_bytes() == content


@pytest.mark.gen_test(timeout=60)
async def test_a_websocket_message_over_the_cap_closes_the_stream(ide_server):
    name = ide_server.add_user("ws", account_type="hacker")
    token = ide_server.cli("user", "token", name).stdout.strip()
    api = Client(ide_server.url, token=token)
    console_id = (await api.post(f"/api/v0/user/{name}/consoles/", {"executable": "bash"})).json()["id"]
    request = HTTPRequest(f"ws://127.0.0.1:{ide_server.port}/consoles/sockjs/websocket?id={console_id}",
                          headers={"Authorization": f"Token {token}"})
    stream = await websocket_connect(request)
    assert json.loads(await stream.read_message())[0] == "setup"
    await stream.write_message(json.dumps(["stdin", "x" * (3 * MiB)]))
    while await asyncio.wait_for(stream.read_message(), 30) is not None:
        pass  # output the console sent before the server saw the message
    assert stream.close_code == 1009  # "message too big"
    await api.delete(f"/api/v0/user/{name}/consoles/{console_id}/")
