"""Connecting to Redis: the URL with its password, the TLS files, and one-line errors.

``--redis-url`` takes what redis-py takes: ``redis://[[user]:password@]host:port/db``,
``rediss://`` for TLS, ``unix://[[user]:password@]/path/to/socket?db=N``.  The
files TLS needs come from flags (``--redis-ca``, and ``--redis-cert`` with
``--redis-key`` when Redis asks clients for a certificate, as it does by
default), checked here before anything connects.  Every failure becomes a
:class:`RedisUnavailable` naming the problem, with the password left out.
"""
from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis.asyncio as aioredis

log = logging.getLogger("ide")

REDIS_CONNECTIONS = 32
SCHEMES = ("redis", "rediss", "unix")
_HIDDEN = "***"
_HOSTNAME_MISMATCH = 62  # X509_V_ERR_HOSTNAME_MISMATCH


class RedisUnavailable(Exception):
    """Redis could not be started or reached; the message says why."""


@dataclass(frozen=True)
class RedisTarget:
    """Where Redis is and how to prove who we are to it (and it to us)."""

    url: str
    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None

    @property
    def shown(self) -> str:
        """The URL as it may appear in messages and logs: without its password."""
        parts = urlsplit(self.url)
        netloc = parts.netloc
        if parts.password is not None:
            user = parts.username or ""
            netloc = f"{user}:{_HIDDEN}@{netloc.rpartition('@')[2]}"
        query = urlencode([(name, _HIDDEN if name == "password" else value)
                           for name, value in parse_qsl(parts.query)], safe="*/")
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))

    def check(self) -> None:
        """Refuse, with a message, a URL redis-py would not take or TLS files that cannot serve."""
        scheme = urlsplit(self.url).scheme
        if scheme not in SCHEMES:
            raise RedisUnavailable(f"--redis-url must start with redis://, rediss:// (TLS) or unix://, "
                                   f"not {self.shown!r}")
        files = {"--redis-ca": self.ca, "--redis-cert": self.cert, "--redis-key": self.key}
        given = [flag for flag, path in files.items() if path is not None]
        if given and scheme != "rediss":
            raise RedisUnavailable(f"{', '.join(given)} only apply to TLS: use a rediss:// URL")
        if (self.cert is None) != (self.key is None):
            raise RedisUnavailable("--redis-cert and --redis-key go together (the client certificate "
                                   "and its private key)")
        for flag, path in files.items():
            if path is not None:
                try:
                    with open(path, "rb"):
                        pass
                except OSError as exc:
                    raise RedisUnavailable(f"cannot read {flag} {path}: {exc.strerror or exc}") from None

    def connection_options(self) -> dict[str, Any]:
        """The TLS files, as redis-py's SSL connections take them."""
        names = {"ssl_ca_certs": self.ca, "ssl_certfile": self.cert, "ssl_keyfile": self.key}
        return {name: str(path) for name, path in names.items() if path is not None}

    @property
    def has_password(self) -> bool:
        parts = urlsplit(self.url)
        return parts.password is not None or any(name == "password" for name, _ in parse_qsl(parts.query))

    def warn_if_open(self) -> None:
        """Log, at start-up, a TCP Redis reached without TLS or without a password."""
        parts = urlsplit(self.url)
        if parts.scheme == "unix":
            return
        missing = [what for what, absent in (("TLS", parts.scheme != "rediss"),
                                             ("a password", not self.has_password)) if absent]
        if missing:
            log.warning("Redis at %s is reached without %s: whatever can reach it can read every "
                        "session (docs/deploy.md)", self.shown, " and ".join(missing))

    def explain(self, exc: Exception) -> str:
        """One line for the operator about why connecting failed."""
        if isinstance(exc, aioredis.AuthenticationError):
            if not self.has_password:
                return (f"Redis at {self.shown} requires a password: give it in --redis-url "
                        f"(redis://:PASSWORD@host:port/db, or USER:PASSWORD@ for an ACL user)")
            return f"Redis at {self.shown} refused the user or password in --redis-url ({exc})"
        refused = _certificate_refusal(exc)
        if refused is not None:
            hint = ("connect by a name or address the certificate names"
                    if refused.verify_code == _HOSTNAME_MISMATCH else
                    "give the CA that signed it with --redis-ca")
            return (f"the TLS certificate of Redis at {self.shown} is not trusted "
                    f"({refused.verify_message}): {hint}")
        return f"cannot reach Redis at {self.shown}: {exc}"


def _certificate_refusal(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate check that failed somewhere under ``exc``, if that is what happened."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


async def connect(target: RedisTarget) -> aioredis.Redis:
    """A client for ``target``, checked with a PING so errors surface at start-up."""
    target.check()
    # Bursts (a class of hundreds attaching at once) wait for a connection
    # instead of failing at the cap.  The cap is low: Redis answers one
    # command at a time, so more connections only add handshakes, each a
    # stall on the IOLoop in the middle of the burst (one is held for good by
    # the control channel's subscription).  No CLIENT SETINFO: redis-py would
    # look its own version up in the installed packages' files per connection.
    try:
        pool = aioredis.BlockingConnectionPool.from_url(target.url, max_connections=REDIS_CONNECTIONS,
                                                        timeout=30, decode_responses=True, driver_info=None,
                                                        **target.connection_options())
    except ValueError as exc:  # a port that is not a number, an unknown option
        raise RedisUnavailable(f"--redis-url {target.shown} is not a Redis URL redis-py takes: {exc}") from None
    client = aioredis.Redis(connection_pool=pool)
    try:
        await client.ping()
    except (OSError, aioredis.RedisError) as exc:
        await client.aclose()
        raise RedisUnavailable(target.explain(exc)) from None
    return client
