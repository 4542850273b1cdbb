"""Hands a console's frames to its viewers while keeping every queue bounded.

The policy (written up in ``docs/protocol.md``):

* A read-write viewer (the owner, or a share in ``rw`` mode) is never
  skipped: when its queue passes the high watermark, or it sent ``pause``,
  the fan-out reports itself *blocked* and the console stops reading its
  PTY, so the program blocks as in a real terminal.  It unblocks when every
  such viewer has drained below the low watermark and none is paused.
* A read-only viewer never blocks anyone.  While it is paused, or once its
  queue passes ``viewer_cap``, it skips output; when it can take data again
  it is told ``skipped`` and gets a fresh catch-up (a terminal reset and the
  tail of the scrollback) instead of what it missed.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from consoles import frames
from consoles.frames import Frame
from consoles.viewer import Viewer

_TOO_FAR_BEHIND = ("This connection was paused while too much output waited for it; "
                   "reconnect to see the console again.")


@dataclass(frozen=True)
class FlowLimits:
    """Byte budgets of one console's fan-out."""

    high_watermark: int = 256 * 1024
    low_watermark: int = 32 * 1024
    # A read-only viewer with more queued skips ahead; a paused read-write
    # viewer holding more is disconnected.
    viewer_cap: int = 1024 * 1024
    # How much of the scrollback a skipping viewer gets to catch up.
    catch_up_bytes: int = 64 * 1024

    def __post_init__(self) -> None:
        if not 0 < self.low_watermark < self.high_watermark <= self.viewer_cap:
            raise ValueError("flow limits must satisfy 0 < low_watermark < high_watermark <= viewer_cap")


class Fanout:
    """The viewers of one console and the flow-control decisions about them."""

    def __init__(self, limits: FlowLimits, catch_up: Callable[[], list[Frame]],
                 on_blocked_change: Callable[[], None]) -> None:
        self.limits = limits
        self._catch_up = catch_up
        self._on_blocked_change = on_blocked_change
        self._viewers: list[Viewer] = []
        # True while some read-write viewer cannot take more output.
        self.blocked = False

    @property
    def viewers(self) -> list[Viewer]:
        return list(self._viewers)

    def add(self, viewer: Viewer) -> None:
        self._viewers.append(viewer)
        viewer.listen(self._progressed)
        self._recompute()

    def remove(self, viewer: Viewer) -> bool:
        if viewer not in self._viewers:
            return False
        self._viewers.remove(viewer)
        viewer.listen(None)
        self._recompute()
        return True

    def send(self, frame: Frame) -> None:
        """Deliver one frame to every viewer (the same encoded frame to each)."""
        for viewer in list(self._viewers):
            self._deliver(viewer, frame)
        self._recompute()

    def answer(self, viewer: Viewer, frame: Frame) -> None:
        """Reply to something a viewer sent: goes out even while it is paused or behind.

        Replies come one per client message, so they are only dropped when the
        viewer's queue is already past its cap (a client sending without reading).
        """
        if viewer in self._viewers and viewer.queued_bytes() <= self.limits.viewer_cap:
            viewer.transmit(frame)
            self._recompute()

    def end(self, viewer: Viewer, frame: Frame) -> None:
        """Send a last frame to a viewer, whatever its state, and close it."""
        self.remove(viewer)
        viewer.end(frame)

    def set_readonly(self, viewer: Viewer, readonly: bool) -> None:
        """Switch a live viewer between read-only and read-write (its share's mode changed).

        A read-write viewer's held output becomes a skip (read-only viewers
        never hold anyone back); a read-only viewer that was owed a catch-up
        gets it now, since read-write viewers are never skipped.
        """
        if viewer not in self._viewers or viewer.readonly == readonly:
            return
        viewer.readonly = readonly
        if readonly:
            viewer.throttled = False
            if viewer.held:
                viewer.held, viewer.held_bytes = [], 0
                viewer.behind = True
        elif viewer.behind:
            viewer.behind = False
            for frame in self._catch_up():
                self._deliver(viewer, frame)
        self._recompute()

    def pause(self, viewer: Viewer) -> None:
        viewer.paused = True
        self._recompute()

    def resume(self, viewer: Viewer) -> None:
        if not viewer.paused:
            return
        viewer.paused = False
        held, viewer.held, viewer.held_bytes = viewer.held, [], 0
        for frame in held:
            viewer.transmit(frame)
        if viewer.behind:
            self._maybe_catch_up(viewer)
        self._recompute()

    def _deliver(self, viewer: Viewer, frame: Frame) -> None:
        if viewer.readonly:
            self._deliver_readonly(viewer, frame)
        elif viewer.paused:
            viewer.held.append(frame)
            viewer.held_bytes += len(frame.text)
            if viewer.held_bytes > self.limits.viewer_cap:
                self.end(viewer, frames.disconnect(_TOO_FAR_BEHIND))
        else:
            viewer.transmit(frame)

    def _deliver_readonly(self, viewer: Viewer, frame: Frame) -> None:
        if viewer.paused:
            viewer.behind = True
        elif viewer.behind:
            # The catch-up is built from the scrollback, which already holds
            # this frame's output.
            self._maybe_catch_up(viewer)
        elif viewer.queued_bytes() > self.limits.viewer_cap:
            viewer.behind = True
            viewer.discard_queued()
        else:
            viewer.transmit(frame)

    def _maybe_catch_up(self, viewer: Viewer) -> None:
        if viewer.paused or viewer.queued_bytes() >= self.limits.low_watermark:
            return
        viewer.behind = False
        for frame in self._catch_up():
            viewer.transmit(frame)

    def _progressed(self, viewer: Viewer) -> None:
        if viewer.readonly:
            if viewer.behind:
                self._maybe_catch_up(viewer)
        elif viewer.throttled:
            self._recompute()

    def _recompute(self) -> None:
        blocked = False
        for viewer in self._viewers:
            if viewer.readonly:
                continue
            queued = viewer.queued_bytes()
            if viewer.throttled and queued < self.limits.low_watermark:
                viewer.throttled = False
            elif not viewer.throttled and queued > self.limits.high_watermark:
                viewer.throttled = True
            blocked = blocked or viewer.paused or viewer.throttled
        if blocked != self.blocked:
            self.blocked = blocked
            self._on_blocked_change()
