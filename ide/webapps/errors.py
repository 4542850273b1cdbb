"""Web-app errors; ide/web/errors.py gives each its HTTP status."""
from __future__ import annotations


class WebappError(Exception):
    """A request about a web app that cannot be done; the message says why."""


class WebappInvalid(WebappError):
    """A malformed or refused value (domain, Python version, path)."""


class WebappNotFound(WebappError):
    """No such web app for this user (also for other users' apps: existence is not told)."""


class StaticMappingNotFound(WebappError):
    """No static file mapping with that id on that web app."""
