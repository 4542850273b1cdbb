"""A learner builds a Flask site: the Web page's wizard with a virtualenv, the
Flask file, a static mapping, password protection, the editor's Reload
button, then a visit at the app's domain.

The virtualenv is made by the test with the machine's Python and Flask
copied, file by file, from the test's own environment: nothing is fetched.
"""
from __future__ import annotations

import base64
import os
import shutil
import subprocess
from importlib.metadata import distribution
from pathlib import Path

from playwright.sync_api import Page, Playwright, expect

from tests.browser.conftest import log_in
from tests.browser.test_editor import FilesApi
from tests.browser.test_webapp_editor import visit

WAIT_MS = 60000
FLASK_DISTRIBUTIONS = ("flask", "werkzeug", "jinja2", "markupsafe", "itsdangerous", "click", "blinker")
FLASK_APP = '''from flask import Flask, url_for

app = Flask(__name__)


@app.route("/")
def home():
    return f"<h1>My first Flask site</h1><link rel='stylesheet' href='{url_for('static', filename='style.css')}'>"
'''


def flask_virtualenv(path: Path, owner: tuple[int, int]) -> None:
    """``python3 -m venv`` with the machine's Python, and Flask's installed files copied in."""
    subprocess.run(["/usr/bin/python3.11", "-m", "venv", "--without-pip", str(path)], check=True)
    site = path / "lib" / "python3.11" / "site-packages"
    for name in FLASK_DISTRIBUTIONS:
        installed = distribution(name)
        for file in installed.files or ():
            if file.parts[0] == ".." or file.suffix == ".pyc":
                continue  # scripts outside site-packages, and caches
            target = site / file
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(Path(str(installed.locate_file(file))), target)
    for root, directories, files in os.walk(path):
        for entry in (root, *(os.path.join(root, name) for name in directories + files)):
            os.chown(entry, *owner, follow_symlinks=False)


def test_a_learner_builds_a_flask_site_and_visits_it(ide_server, page: Page, playwright: Playwright) -> None:
    name = ide_server.add_user("learner")
    domain = f"{name}.localhost"
    token = ide_server.cli("user", "token", name).stdout.strip()
    api = playwright.request.new_context(base_url=ide_server.url,
                                         extra_http_headers={"Authorization": f"Token {token}"})
    files = FilesApi(api, name)
    files.write(f"/home/{name}/README.txt", "my files\n")
    home = ide_server.data_dir / "home" / name
    flask_virtualenv(home / ".virtualenvs" / "flask", (home.stat().st_uid, home.stat().st_gid))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    log_in(page, ide_server, name)
    page.get_by_role("link", name="Web", exact=True).click()
    wizard = page.locator("#add-webapp form")
    expect(wizard.get_by_label("Domain", exact=True)).to_have_value(domain)
    wizard.get_by_label("Flask").check()
    wizard.get_by_label("Virtualenv").fill(f"/home/{name}/.virtualenvs/flask")
    wizard.get_by_role("button", name="Add").click()
    card = page.locator(f"section[data-webapp='{domain}']")
    expect(card).to_be_visible(timeout=WAIT_MS)
    expect(card.get_by_label("Virtualenv")).to_have_value(f"/home/{name}/.virtualenvs/flask")
    expect(card.get_by_label("Source directory")).to_have_value(f"/home/{name}/mysite")
    assert "from flask import Flask" in files.read(f"/home/{name}/mysite/flask_app.py")

    card.get_by_label("URL").fill("/static/")
    card.get_by_label("Directory", exact=True).fill(f"/home/{name}/mysite/static")
    card.get_by_role("button", name="Add mapping").click()
    expect(page.locator(f"section[data-webapp='{domain}'] tr[data-static]")).to_contain_text("/static/")

    card = page.locator(f"section[data-webapp='{domain}']")
    protection = card.locator("form", has=page.get_by_label("Ask visitors for a password"))
    protection.get_by_label("Ask visitors for a password").check()
    protection.get_by_label("User name").fill("friend")
    protection.get_by_label("Password", exact=True).fill("open sesame")
    with page.expect_navigation():  # a saved form reloads the page
        protection.get_by_role("button", name="Save").click()
    expect(page.locator(f"section[data-webapp='{domain}']").get_by_label(
        "Ask visitors for a password")).to_be_checked()

    files.write(f"/home/{name}/mysite/flask_app.py", FLASK_APP)
    files.write(f"/home/{name}/mysite/static/style.css", "h1 { color: teal; }\n")
    page.goto(f"{ide_server.url}/user/{name}/files/home/{name}/mysite/flask_app.py?edit")
    expect(page.locator(".cm-content")).to_contain_text("My first Flask site")
    page.get_by_role("button", name=f"Reload {domain}").click()
    expect(page.locator("#editor-status")).to_have_text(f"Reloaded {domain}: it is running.", timeout=WAIT_MS)

    password = "Basic " + base64.b64encode(b"friend:open sesame").decode()
    status, body = visit(ide_server, domain, "/", {"Authorization": password})
    assert status == 200 and b"<h1>My first Flask site</h1>" in body, body
    assert b"/static/style.css" in body
    assert visit(ide_server, domain, "/static/style.css", {"Authorization": password}) == (
        200, b"h1 { color: teal; }\n")
    refused, _ = visit(ide_server, domain, "/")
    assert refused == 401
    assert visit(ide_server, domain, "/static/style.css")[0] == 401
    assert errors == []
