"""An app that raised: the front's error page, and the traceback for its owner from the error log.

``wsgi_launcher.py`` (in the app's process) writes an escaped exception to
the error log between two lines naming a random incident id and answers
500 with that id in ``X-Ide-App-Error``.  The front never passes that
answer on: visitors get a plain page, and the app's owner (with the owner
cookie, ``owner_pass.py``) the traceback, read back from the error log.
An app that answers 500 itself (a framework's own error page) is not an
incident: its answer passes unchanged.

The log is the user's file: it is opened without following a link, must
be a regular file of the app's owner, and only its last MiB is read.
"""
from __future__ import annotations

import html
import os
import re
import stat
from pathlib import Path
from urllib.parse import urlencode

from tornado.httputil import HTTPServerRequest

from ide.webapps.wsgi_launcher import INCIDENT_END, INCIDENT_HEADER, INCIDENT_START

__all__ = ["INCIDENT_HEADER", "error_page", "incident_of", "last_exception", "read_traceback", "sign_in_url", "site_of"]

_ID = re.compile(r"[0-9a-f]{32}")
_TAIL = 1 << 20
_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception)(?:: .*)?$", re.M)

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Something went wrong</title></head>
<body><h1>Something went wrong</h1>
<p>This web app had an error while answering. Its owner can find the details in its error log.</p>
{details}</body></html>
"""


def incident_of(value: str | None) -> str | None:
    """The incident id of an app's answer header, if it is one."""
    return value if value is not None and _ID.fullmatch(value) else None


def read_traceback(log: Path, owner_uid: int | None, incident: str) -> str | None:
    """The traceback logged for ``incident``, from the end of the error log; blocking.

    None when the log is not the owner's regular file or no longer holds it.
    """
    text = _tail(log, owner_uid)
    if text is None:
        return None
    start_marker = INCIDENT_START.split("{request}")[0].format(incident=incident)
    start = text.rfind(start_marker)
    if start < 0:
        return None
    body_start = text.find("\n", start) + 1
    end = text.find(INCIDENT_END.format(incident=incident), body_start)
    return text[body_start:end] if body_start > 0 and end >= 0 else None


def last_exception(log: Path, owner_uid: int | None) -> str | None:
    """The last exception line of the error log (``ModuleNotFoundError: No module named 'x'``),
    to say why an app did not start; blocking."""
    text = _tail(log, owner_uid)
    found = _EXCEPTION.findall(text or "")
    return found[-1].strip() if found else None


def _tail(log: Path, owner_uid: int | None) -> str | None:
    """The last MiB of the owner's log."""
    return read_owners_file(log, owner_uid, _TAIL, from_end=True)


def read_owners_file(path: Path, owner_uid: int | None, limit: int, *, from_end: bool = False) -> str | None:
    """At most ``limit`` bytes of a file of the app's owner (its start, or its end), read as root:
    never through a link, only a regular file of that uid; None otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or (owner_uid is not None and info.st_uid != owner_uid):
            return None
        if from_end:
            os.lseek(fd, max(0, info.st_size - limit), os.SEEK_SET)
        return os.read(fd, limit).decode(errors="replace")
    finally:
        os.close(fd)


def error_page(owner: bool, traceback: str | None, sign_in: str) -> str:
    """The page for an app that raised: the traceback for its owner, else a way to sign in."""
    if owner and traceback is not None:
        details = ("<p>You own this web app, so you see the traceback from its error log:</p>\n"
                   f'<pre id="traceback">{html.escape(traceback)}</pre>\n')
    elif owner:
        details = "<p>The traceback is no longer at the end of the app's error log.</p>\n"
    else:
        details = f'<p><a href="{html.escape(sign_in)}">Are you its owner? Sign in to see the error</a>.</p>\n'
    return _PAGE.format(details=details)


def site_of(request: HTTPServerRequest, host: str) -> str:
    """``host`` on the request's own scheme and port (the IDE and the apps share a listener)."""
    _, colon, port = request.host.rpartition(":")
    return f"{request.protocol}://{host}{':' + port if colon and port.isdigit() else ''}"


def sign_in_url(ide_url: str, domain: str, next_path: str) -> str:
    """Where "owner? sign in" goes: the IDE, which sends its logged-in owner back with a pass."""
    return f"{ide_url}/webapps/owner-pass/?" + urlencode({"domain": domain, "next": next_path})
