"""One connection attached to a console, as the console sees it.

The console knows nothing of SockJS or WebSockets: a transport subclasses
:class:`Viewer` to say how a frame is sent and how many bytes it still has
queued, and calls :meth:`Viewer.progressed` when some of them left, so the
console's flow control can act on real backpressure.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

from consoles.frames import Frame


class Viewer(ABC):
    """A connection's identity, rights and flow-control state."""

    def __init__(self, username: str, readonly: bool, credential: str = "") -> None:
        self.username = username
        self.readonly = readonly
        # The login session or API token that let this connection in (see consoles.access).
        self.credential = credential
        # Asked by the client (["pause"]): nothing is sent until ["resume"].
        self.paused = False
        # A read-write viewer past the high watermark, until it drains below the low one.
        self.throttled = False
        # A read-only viewer that missed output and is owed a catch-up.
        self.behind = False
        # The terminal size this viewer last asked for.
        self.size: tuple[int, int] | None = None
        # Frames kept for a paused read-write viewer, sent on resume.
        self.held: list[Frame] = []
        self.held_bytes = 0
        self._listener: Callable[[Viewer], None] | None = None

    def listen(self, listener: Callable[[Viewer], None] | None) -> None:
        """Register who hears that queued bytes left (the console attached to)."""
        self._listener = listener

    def progressed(self) -> None:
        """Transports call this when queued bytes reached the network."""
        if self._listener is not None:
            self._listener(self)

    @abstractmethod
    def transmit(self, frame: Frame) -> None:
        """Hand a frame to the transport now."""

    @abstractmethod
    def queued_bytes(self) -> int:
        """Bytes handed to the transport that have not been written to the network yet."""

    @abstractmethod
    def discard_queued(self) -> None:
        """Drop whatever queued data can still be dropped (a read-only viewer skipping ahead)."""

    @abstractmethod
    def end(self, frame: Frame) -> None:
        """Send a last frame (``disconnect``) and close the connection."""

    def __repr__(self) -> str:
        mode = "ro" if self.readonly else "rw"
        return f"<{type(self).__name__} {self.username} {mode}>"
