"""A visitor's WebSocket passes through the front to the app, as any request does."""
from __future__ import annotations

import pytest
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from tests.ide.webapp_helpers import apps_server, domain_of, owner, patch, visit

__all__ = ["apps_server"]

ECHO_SERVER = '''
import base64, hashlib, os, socket
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
server = socket.socket(socket.AF_UNIX)
server.bind(os.environ["DOMAIN_SOCKET"])
server.listen()
while True:
    conn, _ = server.accept()
    head = b""
    while b"\\r\\n\\r\\n" not in head:
        chunk = conn.recv(4096)
        if not chunk:
            break
        head += chunk
    if b"\\r\\n\\r\\n" not in head:  # a readiness probe: connected, then closed
        conn.close()
        continue
    lines = head.decode().split("\\r\\n")
    fields = {line.split(":", 1)[0].lower(): line.split(":", 1)[1].strip() for line in lines[1:] if ":" in line}
    if fields.get("upgrade", "").lower() != "websocket":
        conn.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 5\\r\\nConnection: close\\r\\n\\r\\nplain")
        conn.close()
        continue
    key = (fields["sec-websocket-key"] + GUID).encode()
    accept = base64.b64encode(hashlib.sha1(key).digest()).decode()
    conn.sendall(("HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n"
                  f"Sec-WebSocket-Accept: {accept}\\r\\n\\r\\n").encode())
    data = conn.recv(4096)  # one short masked text frame
    length, mask = data[1] & 0x7F, data[2:6]
    text = bytes(b ^ mask[i % 4] for i, b in enumerate(data[6:6 + length])).decode()
    reply = f"{text.upper()} {lines[0].split()[1]} {fields.get('x-forwarded-for')}".encode()
    conn.sendall(bytes([0x81, len(reply)]) + reply)
    conn.close()
'''


@pytest.mark.gen_test(timeout=60)
async def test_a_websocket_reaches_the_app_behind_the_front_and_its_password(apps_server):
    alice = owner(apps_server, "hacker")
    home = apps_server.data_dir / "home" / alice.name
    home.mkdir(parents=True, exist_ok=True)
    (home / "ws.py").write_text(ECHO_SERVER)
    websites = f"/api/v1/user/{alice.name}/websites/"
    created = await alice.api.post(websites, {"domain_name": domain_of(alice), "enabled": True,
                                              "webapp": {"command": "python3.11 ws.py"}})
    assert created.status == 201, created.text
    plain = await visit(apps_server, domain_of(alice))
    assert plain.body == b"plain", (plain.code, plain.body)
    host = f"{domain_of(alice)}:{apps_server.port}"
    url = f"ws://127.0.0.1:{apps_server.port}/chat?room=1"
    connection = await websocket_connect(HTTPRequest(url, headers={"Host": host}))
    await connection.write_message("hello")
    assert await connection.read_message() == "HELLO /chat?room=1 127.0.0.1"
    connection.close()

    # The front's checks come first: with password protection, no upgrade without the password.
    protected = await patch(alice.api, f"/api/v0/user/{alice.name}/webapps/{domain_of(alice)}/",
                            {"password_protection_enabled": True, "password_protection_username": "u",
                             "password_protection_password": "p"})
    assert protected.status == 200, protected.text
    with pytest.raises(Exception, match="401"):
        await websocket_connect(HTTPRequest(url, headers={"Host": host}))
