"""The Web page's wizard: the WSGI file (and for Flask a first app) each kind of web app starts with.

A plain WSGI app gets a hello-world WSGI file; "any command" makes a
website (API v1's kind), with no WSGI file.  Flask gets
``<source>/flask_app.py`` (unless the file exists) and a WSGI file that
imports ``app`` from it.  Django gets a WSGI file for the project in the
source directory (``manage.py`` and ``<name>/settings.py`` there, made
with ``django-admin startproject``; nothing is made for it).  gunicorn runs
the app in its source directory, which is on ``sys.path``; the WSGI files
add it as well, so they also work when moved.
"""
from __future__ import annotations

import posixpath

from ide.webapps.errors import WebappInvalid

FRAMEWORKS = ("wsgi", "flask", "django", "command")
"""``command``: a website (API v1's) that runs a command of the user's, listening on $DOMAIN_SOCKET."""

HELLO_WORLD = '''"""The WSGI file of {domain}: edit it, save, and the app reloads."""


def application(environ, start_response):
    body = b"Hello from {domain}, served from your sandbox.\\n"
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"),
                              ("Content-Length", str(len(body)))])
    return [body]
'''

_FLASK_WSGI = '''"""The WSGI file of {domain}: it serves the Flask app in {source}/flask_app.py.

Saving this file (or the Reload button) reloads the app.
"""
import sys

project_home = {source!r}
if project_home not in sys.path:
    sys.path = [project_home] + sys.path

from flask_app import app as application  # noqa: E402
'''

FLASK_APP = '''"""A first Flask app: edit it, then reload the web app."""
from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello_world():
    return "Hello from Flask!"
'''

_DJANGO_WSGI = '''"""The WSGI file of {domain}: it serves the Django project in {source}.

Saving this file (or the Reload button) reloads the app.
"""
import os
import sys

project_home = {source!r}
if project_home not in sys.path:
    sys.path = [project_home] + sys.path

os.environ["DJANGO_SETTINGS_MODULE"] = "{name}.settings"

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
'''


def check_framework(value: object) -> str:
    name = "wsgi" if value in (None, "") else value
    if name not in FRAMEWORKS:
        raise WebappInvalid(f"framework must be one of {', '.join(FRAMEWORKS)}.")
    return str(name)


def wsgi_file_text(framework: str, domain: str, source: str) -> str:
    """The new app's WSGI file; ``source`` as the user names it (``/home/<u>/mysite``)."""
    if framework == "flask":
        return _FLASK_WSGI.format(domain=domain, source=source)
    if framework == "django":
        return _DJANGO_WSGI.format(domain=domain, source=source, name=posixpath.basename(source.rstrip("/")))
    return HELLO_WORLD.format(domain=domain)
