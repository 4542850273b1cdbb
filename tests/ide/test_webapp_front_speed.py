"""What the front's speed must not cost: a change to an app is served at once on every node, and
connections kept open to an app are reused only while the app keeps them."""
from __future__ import annotations

import asyncio
import os

import pytest

from tests.client import Client
from tests.ide.test_sharing import Person
from tests.ide.test_two_nodes import nodes
from tests.ide.webapp_helpers import apps, apps_server, create_app, domain_of, owner, patch, visit
from tests.server import ServerProcess

__all__ = ["apps_server", "nodes"]

# Counts the connections it accepted and answers with the number of the one a request came on;
# keeps each open (HTTP/1.1) and closes it after half a second without a request.
KEEP_ALIVE_SERVER = (
    "import os, socketserver, http.server, itertools\n"
    "numbers = itertools.count(1)\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    protocol_version = 'HTTP/1.1'\n"
    "    timeout = 0.5\n"
    "    def setup(self):\n"
    "        super().setup(); self.number = next(numbers)\n"
    "    def answer(self):\n"
    "        length = int(self.headers.get('Content-Length') or 0)\n"
    "        body = f'{self.number} {len(self.rfile.read(length))}'.encode()\n"
    "        self.send_response(200); self.send_header('Content-Length', str(len(body)))\n"
    "        self.end_headers(); self.wfile.write(body)\n"
    "    do_GET = do_POST = answer\n"
    "    def log_message(self, *args): pass\n"
    "class S(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):\n"
    "    daemon_threads = True\n"
    "S(os.environ['DOMAIN_SOCKET'], H).serve_forever()\n")


def static_site(server: ServerProcess, who: Person, name: str, text: str) -> str:
    """A directory of the user's home holding ``a.txt``, owned by them; its visible path."""
    home = server.data_dir / "home" / who.name
    directory = home / name
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "a.txt").write_text(text)
    owner_ids = home.stat()
    for path in (directory, directory / "a.txt"):
        os.chown(path, owner_ids.st_uid, owner_ids.st_gid)
    return f"/home/{who.name}/{name}"


async def status_on(server: ServerProcess, who: Person, path: str = "/static/a.txt") -> tuple[int, bytes]:
    answer = await visit(server, domain_of(who), path)
    return answer.code, answer.body


@pytest.mark.gen_test(timeout=120)
async def test_a_change_to_an_app_on_one_node_is_served_at_once_on_the_other(nodes):
    first, second = nodes
    name = first.add_user("front", account_type="hacker")
    alice = Person(name, Client(first.url, token=first.cli("user", "token", name).stdout.strip()))
    on_second = Client(second.url, token=alice.api.token)
    await create_app(alice)
    target = apps(alice) + f"{domain_of(alice)}/"
    old = static_site(first, alice, "old", "old file")
    new = static_site(first, alice, "new", "new file")
    mapping = await alice.api.post(target + "static_files/", {"url": "/static/", "path": old})
    assert mapping.status == 201, mapping.text
    for _ in range(3):  # each node now keeps the app's route
        assert await status_on(first, alice) == (200, b"old file")
        assert await status_on(second, alice) == (200, b"old file")

    assert (await alice.api.post(target + "disable/")).status == 200
    assert (await status_on(second, alice))[0] == 503
    assert (await status_on(first, alice))[0] == 503
    assert (await on_second.post(target + "enable/")).status == 200
    assert await status_on(first, alice) == (200, b"old file")
    assert await status_on(second, alice) == (200, b"old file")

    protected = await patch(alice.api, target, {"password_protection_enabled": True,
                                                "password_protection_username": "u",
                                                "password_protection_password": "p"})
    assert protected.status == 200, protected.text
    assert (await status_on(second, alice))[0] == 401
    assert (await status_on(first, alice))[0] == 401
    assert (await patch(on_second, target, {"password_protection_enabled": False})).status == 200

    moved = await patch(alice.api, target + f"static_files/{mapping.json()['id']}/", {"path": new})
    assert moved.status == 200, moved.text
    assert await status_on(second, alice) == (200, b"new file")
    assert await status_on(first, alice) == (200, b"new file")

    assert (await alice.api.delete(target)).status == 204
    assert (await status_on(second, alice))[0] == 404
    assert (await status_on(first, alice))[0] == 404


@pytest.mark.gen_test(timeout=90)
async def test_connections_an_app_keeps_open_are_reused_until_it_closes_them(apps_server):
    alice = owner(apps_server, "hacker")
    home = apps_server.data_dir / "home" / alice.name
    home.mkdir(parents=True, exist_ok=True)
    (home / "serve.py").write_text(KEEP_ALIVE_SERVER)
    created = await alice.api.post(f"/api/v1/user/{alice.name}/websites/", {
        "domain_name": domain_of(alice), "enabled": True, "webapp": {"command": "python3.11 serve.py"}})
    assert created.status == 201, created.text

    answers = [(await visit(apps_server, domain_of(alice))).body for _ in range(5)]
    first_connection = answers[0].split()[0]
    assert answers == [first_connection + b" 0"] * 5, answers

    # The app closes the idle connection; the next request, even one with a body (which is never
    # sent twice), goes on a new one instead of failing on the closed one.
    await asyncio.sleep(1.0)
    posted = await visit(apps_server, domain_of(alice), "/", method="POST", body=b"x" * 1000)
    assert posted.code == 200, posted.body
    number, length = posted.body.split()
    assert int(number) > int(first_connection) and length == b"1000"


@pytest.mark.gen_test(timeout=90)
async def test_a_static_file_served_from_memory_follows_its_changes_and_never_a_link_out(apps_server, tmp_path):
    alice = owner(apps_server)
    await create_app(alice)
    site = static_site(apps_server, alice, "site", "first")
    assert (await alice.api.post(apps(alice) + f"{domain_of(alice)}/static_files/",
                                 {"url": "/static/", "path": site})).status == 201
    path = apps_server.data_dir / "home" / alice.name / "site" / "a.txt"
    assert await status_on(apps_server, alice) == (200, b"first")

    path.write_text("second")
    deadline = asyncio.get_running_loop().time() + 30
    while (answer := await status_on(apps_server, alice)) != (200, b"second"):
        assert answer == (200, b"first"), answer  # at most the file as it was
        assert asyncio.get_running_loop().time() < deadline, "the change was never served"
        await asyncio.sleep(0.05)

    secret = tmp_path / "root-only"
    secret.write_text("root secret")
    path.unlink()
    os.symlink(secret, path)
    while (answer := await status_on(apps_server, alice))[0] != 404:
        assert answer == (200, b"second"), answer  # never the link's target
        assert asyncio.get_running_loop().time() < deadline, "the link was served"
        await asyncio.sleep(0.05)
