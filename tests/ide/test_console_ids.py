"""Console ids from outside are checked for their shape before any lookup: a
malformed one is a 404 (JSON in the API) or a refused stream, and never
reaches Redis as part of a key."""
from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import pytest

from consoles.stream import REFUSED
from tests.client import Client
from tests.consoles.sockjs_client import connect


@contextmanager
def redis_commands(server) -> Iterator[list[str]]:
    """Every command the server's Redis runs meanwhile (MONITOR), as text."""
    seen: list[str] = []
    watch_id = secrets.token_hex(4)
    begin, end = f"begin-watch-{watch_id}", f"end-watch-{watch_id}"
    client = server.redis()
    started = threading.Event()

    def watch() -> None:
        with client.monitor() as monitor:
            started.set()
            while True:
                # The raw line: redis-py's parser of MONITOR lines trips on
                # clients that are on a Unix socket.
                command = str(monitor.connection.read_response())
                seen.append(command)
                if end in command:
                    return

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    started.wait(10)
    with server.redis() as probe:  # MONITOR is on once a command after it shows up
        for _ in range(1000):
            probe.echo(begin)
            thread.join(0.01)
            if any(begin in command for command in seen):
                break
        else:
            raise AssertionError("MONITOR saw nothing")
    try:
        yield seen
    finally:
        with server.redis() as other:
            other.echo(end)
        thread.join(30)
        client.close()


def malformed_ids(marker: str) -> list[str]:
    return [f"{marker}:*", f"x{marker}", f"{marker}/../", f"{marker}*",
            f"{marker} {marker}", f"{marker}\n", f"{marker.upper()}00000000"]


@pytest.mark.gen_test(timeout=60)
async def test_malformed_ids_never_reach_redis(ide_server):
    name = ide_server.add_user("ids", account_type="hacker")
    token = ide_server.cli("user", "token", name).stdout.strip()
    api = Client(ide_server.url, token=token)
    browser = Client(ide_server.url)
    await browser.login(name)
    marker = secrets.token_hex(4)
    base = f"/api/v0/user/{name}/consoles/"
    with redis_commands(ide_server) as seen:
        assert (await api.get(base)).status == 200  # a lookup MONITOR must see
        for bad in malformed_ids(marker):
            quoted = quote(bad, safe="")
            for method, path in [("GET", f"{quoted}/"), ("DELETE", f"{quoted}/"),
                                 ("GET", f"{quoted}/get_latest_output/"),
                                 ("POST", f"{quoted}/send_input/"), ("GET", f"{quoted}/sharing/"),
                                 ("DELETE", f"{quoted}/sharing/bob/")]:
                response = await api.request(method, base + path,
                                             body={"input": "x"} if method == "POST" else None)
                assert response.status == 404, (bad, method, path, response.status)
                assert response.headers["Content-Type"].startswith("application/json")
                assert response.json()["detail"]
            for page in (f"/user/{name}/consoles/{quoted}/", f"/user/{name}/consoles/{quoted}/frame/"):
                assert (await browser.get(page)).status == 404
            for transport in ("websocket", "xhr_streaming"):
                stream = await connect(transport, ide_server.url, bad,
                                       headers={"Authorization": f"Token {token}"})
                assert ["disconnect", REFUSED] in await stream.until_closed()
    assert any("ide:token:" in command for command in seen), "MONITOR saw nothing"
    assert not [command for command in seen if marker in command or marker.upper() in command]


@pytest.mark.gen_test(timeout=60)
async def test_well_formed_ids_still_work(ide_server):
    name = ide_server.add_user("ids", account_type="hacker")
    token = ide_server.cli("user", "token", name).stdout.strip()
    api = Client(ide_server.url, token=token)
    created = await api.post(f"/api/v0/user/{name}/consoles/", {"executable": "bash"})
    console_id = created.json()["id"]
    assert (await api.get(f"/api/v0/user/{name}/consoles/{console_id}/")).status == 200
    unknown = await api.get(f"/api/v0/user/{name}/consoles/{'0' * 16}/")
    assert unknown.status == 404 and unknown.json()["detail"]
    stream = await connect("websocket", ide_server.url, console_id,
                           headers={"Authorization": f"Token {token}"})
    assert (await stream.until(lambda m: m[0] in ("setup", "disconnect")))[0] == "setup"
    await stream.close()
    assert (await api.delete(f"/api/v0/user/{name}/consoles/{console_id}/")).status == 204
