"""``pa webapp`` and ``pa website``, PythonAnywhere's command line, unmodified, in a console like theirs.

``pa webapp create`` makes a virtualenv with virtualenvwrapper in
``~/.virtualenvs/<domain>`` (offline: virtualenv seeds it from the wheels it
ships), then creates the app through the API with that virtualenv and a
project directory ``~/<domain>`` that it leaves for the user to make, adds
``/static/`` and ``/media/`` mappings and reloads.  The site must then be
live, as on PythonAnywhere.  The console has no network but the relay to
the HTTPS front (``tests/pa_console.py``).
"""
from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ide.webapp_helpers import apps_server, eventually, visit
from tests.pa_console import PaConsole, UnixRelay
from tests.server import ServerProcess
from tests.tls_front import TlsFront, tls_front_for

__all__ = ["apps_server"]


@pytest.fixture(scope="module")
def relay(apps_server: ServerProcess,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TlsFront, Path, UnixRelay]]:
    directory = tmp_path_factory.mktemp("pa")
    with tls_front_for(apps_server.port, directory) as (front, cert):
        unix = UnixRelay(directory / "front.sock", front.port)
        try:
            yield front, cert, unix
        finally:
            unix.close()


def console(server: ServerProcess, relay: tuple[TlsFront, Path, UnixRelay], account_type: str = "free") -> PaConsole:
    user = server.add_user("pa", account_type=account_type)
    token = server.cli("user", "token", user).stdout.strip()
    front, cert, unix = relay
    return PaConsole(front, cert, unix, server.data_dir, user, token, unix.path.parent / f"tools-{user}")


def logs(server: ServerProcess, pa: PaConsole) -> list[str]:
    """The user's logs, to say why an app did not answer."""
    return [path.read_text() for path in (server.data_dir / "log" / pa.username).iterdir()]


def test_pa_webapp_create_makes_a_virtualenv_and_a_live_site(apps_server: ServerProcess, relay) -> None:
    pa = console(apps_server, relay)
    domain = f"{pa.username}.localhost"
    pa.seed("notes.txt", "mine\n")

    created = pa.pa("webapp", "create", "-d", domain, "-p", "3.11")
    assert "All done!" in created.stdout, created.stdout + created.stderr
    venv = pa.home / ".virtualenvs" / domain
    assert (venv / "bin" / "python").exists() and (venv / "pyvenv.cfg").exists()

    shown = pa.pa("webapp", "get", "-d", domain).stdout
    assert f"/home/{pa.username}/.virtualenvs/{domain}" in shown and f"/home/{pa.username}/{domain}" in shown
    answer = asyncio.run(visit(apps_server, domain))
    assert answer.code == 200 and f"Hello from {domain}".encode() in answer.body, logs(apps_server, pa)

    reloaded = pa.pa("webapp", "reload", "-d", domain)
    assert f"{domain} has been reloaded" in reloaded.stdout
    listing = pa.pa("path", "get", "/var/log/").stdout
    for kind in ("access", "error", "server"):
        assert f"F  {domain}.{kind}.log" in listing, listing
    assert "started" in pa.pa("path", "get", f"/var/log/{domain}.server.log").stdout

    # Once more: PythonAnywhere's own sanity check refuses, and nothing changes.
    again = pa.pa("webapp", "create", "-d", domain, "-p", "3.11", ok=False)
    assert again.returncode != 0 and "You already have a webapp for" in again.stdout + again.stderr
    assert asyncio.run(visit(apps_server, domain)).code == 200


def test_pa_webapp_create_for_a_domain_that_is_not_yours_fails_before_making_anything(apps_server, relay) -> None:
    pa = console(apps_server, relay)
    pa.seed("notes.txt", "mine\n")
    refused = pa.pa("webapp", "create", "-d", "www.example.org", "-p", "3.11", ok=False)
    assert refused.returncode != 0 and "your own domain" in refused.stdout + refused.stderr
    # The virtualenv was made before the API said no, exactly as on PythonAnywhere.
    assert (pa.home / ".virtualenvs" / "www.example.org" / "bin" / "python").exists()
    assert not apps_server.redis_call("SMEMBERS", f"ide:user:{pa.username}:webapps")


WEBSITE = """import os, socket
from http.server import BaseHTTPRequestHandler, HTTPServer


class Answer(BaseHTTPRequestHandler):
    def address_string(self):
        return "front"  # a Unix socket's peer has no address

    def do_GET(self):
        body = f"website at {self.path}\\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class UnixServer(HTTPServer):
    address_family = socket.AF_UNIX

    def server_bind(self):
        self.socket.bind(self.server_address)
        self.server_name, self.server_port = "localhost", 0


UnixServer(os.environ["DOMAIN_SOCKET"], Answer).serve_forever()
"""


def test_pa_website_creates_gets_reloads_and_deletes(apps_server: ServerProcess, relay) -> None:
    pa = console(apps_server, relay, account_type="hacker")
    domain = f"{pa.username}.localhost"
    pa.seed("site.py", WEBSITE)
    command = "python3 ~/site.py"
    created = pa.pa("website", "create", "--domain", domain, "--command", command)
    assert f"Your site is now live at {domain}" in created.stdout
    assert domain in pa.pa("website", "get").stdout
    details = pa.pa("website", "get", "--domain", domain).stdout
    assert command in details and f"/var/log/{domain}.error.log" in details
    answer = asyncio.run(visit(apps_server, domain, "/hello"))
    assert answer.code == 200 and answer.body == b"website at /hello\n", logs(apps_server, pa)
    assert "has been reloaded" in pa.pa("website", "reload", "--domain", domain).stdout
    again = pa.pa("website", "create", "--domain", domain, "--command", command, ok=False)
    assert again.returncode == 1 and f"You already have a website for {domain}" in again.stdout
    assert "has been deleted" in pa.pa("website", "delete", "--domain", domain).stdout
    assert asyncio.run(visit(apps_server, domain)).code == 404
    asyncio.run(eventually(lambda: "stopped" in (apps_server.data_dir / "log" / pa.username
                                                 / f"{domain}.server.log").read_text(), "the stop"))
