"""Messages between nodes, signed with the deployment's secret.

Anything that can reach Redis can publish on a channel or push onto a list.
The nodes of a deployment, and the ``ide`` command, therefore seal every
message they send each other (access changes on ``ide:control``, requests on
``ide:node:<id>``, answers on ``ide:node-reply:<random>``) with an HMAC-SHA256
under a secret that never goes into Redis, and a receiver acts only on a
message sealed for the channel or list it came from, within a short window
of its timestamp, and never twice.  Wire format: docs/architecture.md,
"Messages between nodes".
"""
from __future__ import annotations

import hashlib
import heapq
import hmac
import json
import logging
import secrets
import time

log = logging.getLogger(__name__)

VERSION = 1
# How far a message's timestamp may lie from the receiver's clock (seconds),
# either way: nodes' clocks must agree to within this (NTP does).
WINDOW = 30.0
# The shortest secret accepted (bytes).
MIN_SECRET_BYTES = 32
_CONTEXT = b"ide-node-message"


class NodeKey:
    """The deployment's secret: seals outgoing messages and makes receivers for incoming ones."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"a node secret must be at least {MIN_SECRET_BYTES} bytes long, "
                             f"not {len(secret)}")
        self._secret = secret

    def mac(self, channel: str, timestamp: int, nonce: str, payload: str) -> str:
        """The hex HMAC-SHA256 of one message; the channel is part of it, so a message
        sealed for one channel or list is refused on any other."""
        signed = b"\n".join((_CONTEXT, str(VERSION).encode(), channel.encode(), str(timestamp).encode(),
                             nonce.encode(), payload.encode()))
        return hmac.new(self._secret, signed, hashlib.sha256).hexdigest()

    def seal(self, channel: str, payload: str) -> str:
        """``payload`` wrapped for sending on ``channel`` now."""
        timestamp, nonce = int(time.time() * 1000), secrets.token_hex(16)
        return json.dumps({"v": VERSION, "t": timestamp, "n": nonce, "p": payload,
                           "mac": self.mac(channel, timestamp, nonce, payload)})

    def receiver(self, window: float = WINDOW) -> Receiver:
        """A receiver with its own memory of the messages it accepted (one per listener:
        two listeners in one process may each legitimately get the same message)."""
        return Receiver(self, window)


class Receiver:
    """Opens sealed messages, refusing forged, stale, future and repeated ones."""

    def __init__(self, key: NodeKey, window: float) -> None:
        self._key = key
        self._window_ms = int(window * 1000)
        # Nonces accepted and still inside the window, and when each leaves it.
        self._seen: set[str] = set()
        self._expiries: list[tuple[int, str]] = []

    def open(self, channel: str, message: str) -> str | None:
        """The payload of ``message`` received on ``channel``, or None (logged, without the
        content) when no node of this deployment sealed it there just now."""
        reason = self._refusal(channel, message)
        if reason is None:
            return str(json.loads(message)["p"])
        log.warning("ignoring a message on %s: %s", channel, reason)
        return None

    def _refusal(self, channel: str, message: str) -> str | None:
        try:
            envelope = json.loads(message)
            version, timestamp, nonce = envelope["v"], envelope["t"], envelope["n"]
            payload, mac = envelope["p"], envelope["mac"]
        except (ValueError, KeyError, TypeError):
            return "not a signed message"
        if version != VERSION or not all(isinstance(value, str) for value in (nonce, payload, mac)) \
                or type(timestamp) is not int:
            return "not a signed message"
        if not hmac.compare_digest(mac, self._key.mac(channel, timestamp, nonce, payload)):
            return "bad signature (not sealed by a node of this deployment for this channel)"
        now = int(time.time() * 1000)
        self._forget_until(now)
        age, window = (now - timestamp) / 1000, self._window_ms / 1000
        if age > window:
            return f"signed {age:.0f} s ago, outside the {window:.0f} s window"
        if -age > window:
            return f"dated {-age:.0f} s ahead, outside the {window:.0f} s window"
        if nonce in self._seen:
            return "a replay of a message already received"
        self._seen.add(nonce)
        heapq.heappush(self._expiries, (timestamp + self._window_ms, nonce))
        return None

    def _forget_until(self, now: int) -> None:
        """Drop nonces whose messages would now be refused as stale anyway."""
        while self._expiries and self._expiries[0][0] < now:
            self._seen.discard(heapq.heappop(self._expiries)[1])
