"""The wizard's kinds of web app through the API, and reloads that tell the truth about new code."""
from __future__ import annotations

import html
import os
import re

import pytest

from tests.client import Client
from tests.ide.webapp_helpers import (
    apps,
    apps_server,
    create_app,
    domain_of,
    log_file,
    owner,
    patch,
    visit,
    write_app,
    www_file,
)

__all__ = ["apps_server"]


@pytest.mark.gen_test(timeout=60)
async def test_the_wizard_makes_a_flask_or_django_wsgi_file_and_refuses_unknown_frameworks(apps_server):
    who = owner(apps_server, "hacker")
    base = apps(who)
    refused = await who.api.post(base, {"domain_name": domain_of(who), "framework": "rails"})
    assert refused.status == 400 and "framework must be one of wsgi, flask, django" in refused.json()["detail"]
    outside = await who.api.post(base, {"domain_name": domain_of(who), "framework": "flask",
                                        "source_directory": "/etc"})
    assert outside.status == 400 and "source_directory" in outside.json()["detail"]
    assert (await who.api.get(base)).json() == []

    # The user's own flask_app.py is kept: the wizard only starts what is not there.
    mine = "from flask import Flask\napp = Flask('mine')\n"
    upload = await who.api.request("POST", f"{who.base()}files/path/home/{who.name}/site/flask_app.py",
                                   raw_body=_multipart(mine), headers={"Content-Type": _FORM})
    assert upload.status == 201, upload.text
    created = await who.api.post(base, {"domain_name": domain_of(who), "framework": "flask",
                                        "source_directory": f"/home/{who.name}/site"})
    assert created.status == 201, created.text
    assert created.json()["source_directory"] == f"/home/{who.name}/site"
    wsgi = www_file(apps_server, who).read_text()
    assert f"project_home = '/home/{who.name}/site'" in wsgi and "from flask_app import app as application" in wsgi
    kept = await who.api.get(f"{who.base()}files/path/home/{who.name}/site/flask_app.py")
    assert kept.text == mine

    django = await who.api.post(base, {"domain_name": "django.example.org", "framework": "django"})
    assert django.status == 201 and django.json()["source_directory"] == f"/home/{who.name}/mysite"
    wsgi = www_file(apps_server, who, "django.example.org").read_text()
    assert 'os.environ["DJANGO_SETTINGS_MODULE"] = "mysite.settings"' in wsgi


@pytest.mark.gen_test(timeout=120)
async def test_a_reload_whose_new_code_cannot_load_says_so_at_once(apps_server):
    who = owner(apps_server, "hacker")
    assert (await who.api.post(apps(who), {"domain_name": domain_of(who)})).status == 201
    assert (await visit(apps_server, domain_of(who))).code == 200
    write_app(apps_server, who, "raise RuntimeError('cannot load this')\n")
    reloaded = await who.api.post(f"{apps(who)}{domain_of(who)}/reload/")
    assert reloaded.status == 200
    state = (await who.api.get(f"{apps(who)}{domain_of(who)}/")).json()
    # Why, from the end of its error log, after the supervisor's own words.
    assert state["state"] != "running" and state["last_error"].endswith(": RuntimeError: cannot load this"), state
    assert "cannot load this" in log_file(apps_server, who, "error").read_text()

    # Never started yet: its first start is not "running" either while its workers cannot load it.
    other = "second.example.org"
    assert (await who.api.post(apps(who), {"domain_name": other})).status == 201
    write_app(apps_server, who, "import no_such_module_here\n", other)
    assert (await who.api.post(f"{apps(who)}{other}/reload/")).status == 200
    state = (await who.api.get(f"{apps(who)}{other}/")).json()
    assert state["state"] != "running", state
    assert state["last_error"].endswith("ModuleNotFoundError: No module named 'no_such_module_here'"), state

    write_app(apps_server, who, _SLOW_APP)
    assert (await who.api.post(f"{apps(who)}{domain_of(who)}/reload/")).status == 200
    assert (await who.api.get(f"{apps(who)}{domain_of(who)}/")).json()["state"] == "running"
    assert (await visit(apps_server, domain_of(who))).body == b"loaded slowly"


_SLOW_APP = '''
import time
time.sleep(1)  # a big framework's import


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"loaded slowly"]
'''
_BOUNDARY = "wizardboundary"
_FORM = f"multipart/form-data; boundary={_BOUNDARY}"


def _multipart(text: str) -> bytes:
    return (f"--{_BOUNDARY}\r\nContent-Disposition: form-data; name=\"content\"; filename=\"flask_app.py\"\r\n"
            f"Content-Type: text/plain\r\n\r\n{text}\r\n--{_BOUNDARY}--\r\n").encode()


@pytest.mark.gen_test(timeout=120)
async def test_a_failing_apps_error_is_read_from_its_own_log_never_through_a_link(apps_server):
    alice, mallory = owner(apps_server, "hacker"), owner(apps_server, "hacker")
    for who, secret in ((alice, "alice's secret"), (mallory, "mallory's own")):
        assert (await who.api.post(apps(who), {"domain_name": domain_of(who)})).status == 201
        write_app(apps_server, who, f"raise RuntimeError({secret!r})\n")
        assert (await who.api.post(f"{apps(who)}{domain_of(who)}/reload/")).status == 200
    state = (await alice.api.get(f"{apps(alice)}{domain_of(alice)}/")).json()
    assert state["last_error"].endswith("RuntimeError: alice's secret"), state

    # Mallory's programs may replace her log with a link to Alice's.
    mine = log_file(apps_server, mallory, "error")
    mine.unlink()
    mine.symlink_to(log_file(apps_server, alice, "error"))
    state = (await mallory.api.get(f"{apps(mallory)}{domain_of(mallory)}/")).json()
    assert state["state"] != "running" and "alice's secret" not in state["last_error"], state


@pytest.mark.gen_test(timeout=60)
async def test_the_wizards_any_command_makes_a_website(apps_server):
    who = owner(apps_server, "hacker")
    empty = await who.api.post(apps(who), {"domain_name": domain_of(who), "framework": "command", "command": " "})
    assert empty.status == 400 and "$DOMAIN_SOCKET" in empty.json()["detail"]
    created = await who.api.post(apps(who), {"domain_name": domain_of(who), "framework": "command",
                                             "command": "python3 -m my_server", "python_version": "python311"})
    assert created.status == 201, created.text
    site = await who.api.get(f"/api/v1/user/{who.name}/websites/{domain_of(who)}/")
    assert site.status == 200 and site.json()["webapp"]["command"] == "python3 -m my_server"
    assert not www_file(apps_server, who).exists()


@pytest.mark.gen_test(timeout=60)
async def test_the_web_page_says_when_a_virtualenv_is_missing_or_made_by_another_python(apps_server):
    alice = owner(apps_server, "hacker")
    home = apps_server.data_dir / "home" / alice.name
    await create_app(alice)
    base = f"/api/v0/user/{alice.name}/webapps/{domain_of(alice)}/"
    browser = Client(apps_server.url)
    assert (await browser.login(alice.name)).status == 302

    async def page_says() -> str:
        text = (await browser.get(f"/user/{alice.name}/webapps/")).text
        found = re.search(r'class="notice warning virtualenv-problem">([^<]*)<', text)
        return html.unescape(found.group(1)) if found else ""

    assert await page_says() == ""
    missing = f"/home/{alice.name}/.virtualenvs/nowhere"
    assert (await patch(alice.api, base, {"virtualenv_path": missing})).status == 200
    assert await page_says() == f"There is no virtualenv at {missing} (it has no bin/python): check the path, " \
                                "or make it."
    venv = home / ".virtualenvs" / "old"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to("/usr/bin/python3")
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\nversion = 3.9.2\n")
    owner_ids = home.stat()
    os.chown(venv / "pyvenv.cfg", owner_ids.st_uid, owner_ids.st_gid)
    assert (await patch(alice.api, base, {"virtualenv_path": f"/home/{alice.name}/.virtualenvs/old"})).status == 200
    said = await page_says()
    assert said.startswith(f"The virtualenv at /home/{alice.name}/.virtualenvs/old was made with Python 3.9, "
                           "but this web app runs Python 3.11")
