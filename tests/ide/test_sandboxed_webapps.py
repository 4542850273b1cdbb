"""Web apps as root with the sandbox on: each app runs as its user, in their namespaces,
and reaches neither other users' sockets nor the host's logs."""
from __future__ import annotations

import json
import os
import pwd
import subprocess
from collections.abc import Iterator

import pytest

from tests.client import Client
from tests.ide.webapp_helpers import visit
from tests.sandbox.leftovers import TEST_UID_PREFIX, HostSnapshot
from tests.sandbox.network_hosts import free_pool
from tests.server import PROXY_DNS, ServerProcess

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox needs root")

PROBE = '''
import json, os, socket
def application(environ, start_response):
    def reach(path):
        try:
            s = socket.socket(socket.AF_UNIX); s.connect(path); s.close(); return "connected"
        except OSError as exc:
            return type(exc).__name__
    answer = {"uid": os.getuid(), "cwd": os.getcwd(), "run": sorted(os.listdir("/run/webapp")),
              "log": sorted(os.listdir("/var/log")), "home": sorted(os.listdir("/home")),
              "other": reach(environ["QUERY_STRING"])}
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(answer).encode()]
'''


@pytest.fixture(scope="module")
def sandboxed_apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = f"ide-test-apps-{os.getpid()}"
    snapshot = HostSnapshot.take()
    data_dir = tmp_path_factory.mktemp("sandboxed-apps")
    server = ServerProcess(data_dir, "--sandbox", "full", "--uid-prefix", TEST_UID_PREFIX,
                           "--cgroup-base", base, "--sandbox-network", free_pool(), *PROXY_DNS).start()
    try:
        yield server
    finally:
        server.stop()
        for entry in pwd.getpwall():
            if entry.pw_name.startswith(TEST_UID_PREFIX + "sbx"):
                subprocess.run(["userdel", entry.pw_name], check=False, capture_output=True)
        assert snapshot.leftovers(base) == []


async def _app(server: ServerProcess, name: str) -> dict[str, object]:
    client = Client(server.url, token=server.cli("user", "token", name).stdout.strip())
    response = await client.post(f"/api/v0/user/{name}/webapps/", {"domain_name": f"{name}.localhost"})
    assert response.status == 201, response.text
    return response.json()


@pytest.mark.gen_test(timeout=120)
async def test_an_app_runs_as_its_user_and_cannot_reach_another_users_socket(sandboxed_apps):
    alice, bob = sandboxed_apps.add_user("sbx"), sandboxed_apps.add_user("sbx")
    alice_app, bob_app = await _app(sandboxed_apps, alice), await _app(sandboxed_apps, bob)
    assert (await visit(sandboxed_apps, f"{bob}.localhost")).code == 200  # bob's app is up
    wsgi = sandboxed_apps.data_dir / "www" / alice / f"{alice}_localhost_wsgi.py"
    owner = wsgi.stat()
    wsgi.write_text(PROBE)
    os.chown(wsgi, owner.st_uid, owner.st_gid)
    bob_socket = sandboxed_apps.data_dir / "run" / bob / f"{bob_app['id']}.sock"
    assert bob_socket.exists()
    response = await visit(sandboxed_apps, f"{alice}.localhost", f"/?{bob_socket}")
    assert response.code == 200, response.body
    answer = json.loads(response.body)
    assert answer["uid"] == pwd.getpwnam(TEST_UID_PREFIX + alice).pw_uid != 0
    assert answer["cwd"] == f"/home/{alice}"
    assert answer["run"] == [f"{alice_app['id']}.ready", f"{alice_app['id']}.sock"]  # its own only
    assert answer["home"] == [alice]
    assert all(name.startswith(f"{alice}.localhost.") for name in answer["log"]), answer["log"]
    assert answer["other"] in ("PermissionError", "FileNotFoundError")
    # On the host too, the socket's directory is bob's alone (the server is root).
    directory = bob_socket.parent.stat()
    assert directory.st_mode & 0o777 == 0o700 and directory.st_uid == pwd.getpwnam(TEST_UID_PREFIX + bob).pw_uid
