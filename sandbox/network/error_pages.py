"""The pages Squid answers a refused request with: what was refused, why, and what to do.

They are Squid error templates: ``%H`` is the host the program asked for,
``%p`` its port, ``%M`` the method, ``%%`` a literal percent sign. Each is a
short HTML page whose text also reads plainly in a terminal. A refused plain
HTTP request gets it as its response; for a refused tunnel (CONNECT) most
clients show only the status, "Tunnel connection failed: 403 Forbidden", and
the page's name in the ``X-Squid-Error`` header (``curl -v``).
"""
from __future__ import annotations

from pathlib import Path

_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title></head>
<body>
<p>{first}</p>
<p>{second}</p>
</body></html>
"""

PAGES = {
    "ERR_NOT_ON_ALLOW_LIST": (
        "Not on the allow-list",
        "%H is not on this server's allow-list for free accounts.",
        "Programs of free accounts reach only the sites on the allow-list: package indexes, "
        "code hosts, documentation and widely used public APIs. To reach %H, upgrade to a paid "
        "account (paid accounts reach any public site), or ask the operator of this server to "
        "add %H to the allow-list.",
    ),
    "ERR_DESTINATION_REFUSED": (
        "Internal address refused",
        "%H resolves to an address that is not on the public internet "
        "(this server, a private or link-local network), so the proxy refuses to connect to it.",
        "Programs here reach public addresses only. If %H is a service your operator runs "
        "on an internal network for users, ask the operator to admit its addresses.",
    ),
    "ERR_PORT_REFUSED": (
        "Port refused",
        "The proxy does not connect to port %p of %H for this kind of request (%M).",
        "HTTPS tunnels (CONNECT) from free accounts go to port 443 only (any port of a host the "
        "operator admitted); paid accounts may tunnel "
        "to any port but 25 (SMTP; send mail through a provider's submission port 465 or 587). "
        "Plain HTTP goes to ports 80, 443 and 1025 to 65535.",
    ),
    "ERR_TOO_MANY_CONNECTIONS": (
        "Too many connections",
        "Your programs hold more than {limit} connections open through this proxy at once, "
        "so this one (to %H) was refused.",
        "Close connections you no longer use, or reuse them (HTTP keep-alive, a session object), "
        "and try again.",
    ),
    "ERR_PROTOCOL_REFUSED": (
        "Protocol refused",
        "The proxy relays HTTP and HTTPS only, not the protocol of this request for %H.",
        "Use an http:// or https:// address, or an HTTPS tunnel (CONNECT).",
    ),
}


def write_error_pages(directory: Path, connection_limit: int) -> None:
    """Write every page of ``PAGES`` into Squid's ``error_directory``."""
    for name, (title, first, second) in PAGES.items():
        page = _PAGE.format(title=title, first=first.format(limit=connection_limit), second=second)
        (directory / name).write_text(page)
