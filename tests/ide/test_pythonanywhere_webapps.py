"""PythonAnywhere's own ``Webapp`` client, unmodified, creating, reloading, reading and deleting a web app."""
from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ide.webapp_helpers import apps_server
from tests.server import ROOT, ServerProcess
from tests.tls_front import TlsFront, client_environment, tls_front_for

__all__ = ["apps_server"]

CLIENT = """
import json, sys
from pathlib import Path
from pythonanywhere_core.webapp import Webapp
domain, home = sys.argv[1], sys.argv[2]
app = Webapp(domain)
app.sanity_checks(nuke=False)
app.create("3.11", None, Path(home), nuke=False)
app.reload()
answer = {"got": app.get(), "listed": Webapp.list_webapps()}
try:
    app.sanity_checks(nuke=False)
    answer["twice"] = "allowed"
except Exception as exc:
    answer["twice"] = str(exc)
answer["logs"] = app.get_log_info()
app.delete_log("server")
answer["logs_after"] = app.get_log_info()
app.delete()
print(json.dumps(answer))
"""


@pytest.fixture(scope="module")
def tls_front(apps_server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TlsFront, Path]]:
    with tls_front_for(apps_server.port, tmp_path_factory.mktemp("tls")) as front:
        yield front


def test_the_webapp_client_creates_reloads_reads_and_deletes(apps_server: ServerProcess,
                                                           tls_front: tuple[TlsFront, Path]) -> None:
    front, cert = tls_front
    user = apps_server.add_user("pa")
    token = apps_server.cli("user", "token", user).stdout.strip()
    domain = f"{user}.localhost"
    result = subprocess.run([sys.executable, "-c", CLIENT, domain, f"/home/{user}"], cwd=ROOT,
                            env=client_environment(front, cert, user, token), capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["got"]["domain_name"] == domain and answer["got"]["python_version"] == "python311"
    assert answer["got"]["source_directory"] == f"/home/{user}"
    assert [app["domain_name"] for app in answer["listed"]] == [domain]
    assert "already have a webapp" in answer["twice"]
    assert answer["logs"]["server"] == [0] and answer["logs"]["error"] == [0]
    assert answer["logs_after"]["server"] == []
    with apps_server.redis() as client:
        assert not client.exists(f"ide:webapp:{domain}")
    # Deleted, then written afresh by the app's stop on delete.
    server_log = (apps_server.data_dir / "log" / user / f"{domain}.server.log").read_text()
    assert "started" not in server_log and "stopped" in server_log


WEBSITE_CLIENT = """
import json, sys
from pythonanywhere_core.exceptions import DomainAlreadyExistsException, PythonAnywhereApiException
from pythonanywhere_core.website import Website
domain, command = sys.argv[1], sys.argv[2]
site = Website()
answer = {"created": site.create(domain_name=domain, command=command)}
try:
    site.create(domain_name=domain, command=command)
    answer["twice"] = "allowed"
except DomainAlreadyExistsException:
    answer["twice"] = "refused"
answer["got"] = site.get(domain_name=domain)
answer["listed"] = site.list()
answer["reloaded"] = site.reload(domain_name=domain)
answer["deleted"] = site.delete(domain_name=domain)
try:
    site.get(domain_name=domain)
    answer["after"] = "still there"
except PythonAnywhereApiException as exc:
    answer["after"] = str(exc)
print(json.dumps(answer))
"""


def test_the_website_client_creates_gets_lists_reloads_and_deletes(apps_server: ServerProcess,
                                                                 tls_front: tuple[TlsFront, Path]) -> None:
    front, cert = tls_front
    user = apps_server.add_user("site", account_type="hacker")
    token = apps_server.cli("user", "token", user).stdout.strip()
    domain = f"{user}.localhost"
    command = "python3 -m http.server --help"
    result = subprocess.run([sys.executable, "-c", WEBSITE_CLIENT, domain, command], cwd=ROOT,
                            env=client_environment(front, cert, user, token), capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["created"]["domain_name"] == domain and answer["created"]["webapp"]["command"] == command
    assert answer["twice"] == "refused"
    assert answer["got"]["webapp"]["domains"][0]["domain_name"] == domain
    assert answer["got"]["logfiles"]["error"] == f"/var/log/{domain}.error.log"
    assert [site["domain_name"] for site in answer["listed"]] == [domain]
    assert answer["reloaded"] == {"status": "OK"} and answer["deleted"] == {}
    assert "404" in answer["after"]
