"""The web layer's decision about one connection to a console, and what it is made from.

Kept apart from the transport (``consoles.stream``) and from sharing
(``consoles.sharing``), which both use it: the decision is domain data, not
part of either.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class AttachRequest:
    """What the web layer needs to decide who is attaching, and to which console."""

    console_id: str
    cookies: Mapping[str, str]
    headers: Mapping[str, str]
    remote_ip: str


@dataclass(frozen=True)
class Access:
    """Who this is, whether they may type and resize, and the credential they came with.

    ``credential`` names the login session or API token that let the
    connection in (opaque to this package), so that when it ends — logout,
    a password change, a revoked token — the connections it opened end too.
    """

    username: str
    readonly: bool
    credential: str = ""
