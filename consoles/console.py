"""One live program on a PTY, streamed to the viewers attached to it.

Everything here runs on the IOLoop and nothing blocks: the terminal is read
and written by a :class:`~consoles.pty_channel.PtyChannel` (open until the
program ends or the console is closed); what one wakeup reads is sent at
once as one frame, encoded once for every viewer; the program is reaped with
non-blocking ``poll()`` calls, retried on a timer.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

import psutil
from tornado.ioloop import IOLoop

from consoles import frames
from consoles.fanout import Fanout, FlowLimits
from consoles.frames import Frame
from consoles.processes import kill_processes
from consoles.pty_channel import PtyChannel
from consoles.screen import MAX_CHARS
from consoles.scrollback import DEFAULT_SCROLLBACK_BYTES, Scrollback
from consoles.scrollback_file import ScrollbackFile
from consoles.viewer import Viewer
from sandbox import SandboxedProcess

log = logging.getLogger(__name__)

_REAP_RETRY_FIRST = 0.01
_REAP_RETRY_MAX = 1.0

CLOSED_REASON = "The console was closed."

# Who is watching is sent at most this often: a class of hundreds joining
# must not cost every viewer a list per newcomer.
VIEWERS_NOTICE_DELAY = 0.25

NOW_READ_ONLY = "You can now only watch this console: what you type is not sent to it."
NOW_READ_WRITE = "You can now type in this console."


class ConsoleNotRunning(Exception):
    """Input was sent to a console whose program has ended."""


def exit_message(status: int) -> str:
    return f"Process exited with status {status}"


class Console:
    """A program on a PTY with its scrollback and its viewers.

    ``on_exit`` is called once when the program ends by itself (not when the
    console is closed), after the viewers were told.
    """

    def __init__(self, console_id: str, owner: str, title: str, process: SandboxedProcess,
                 rows: int, cols: int, scrollback_bytes: int = DEFAULT_SCROLLBACK_BYTES,
                 limits: FlowLimits = FlowLimits(),
                 on_exit: Callable[[Console], None] | None = None,
                 scrollback_file: ScrollbackFile | None = None) -> None:
        self.id = console_id
        self.owner = owner
        self.title = title
        self.rows = rows
        self.cols = cols
        self.pid = process.pid
        self.exit_status: int | None = None
        self._process = process
        self._loop = IOLoop.current()
        # Each piece read is escaped at once, while the terminal refills (see PtyChannel).
        self._pending = frames.StdoutBatch()
        # What was read also goes to a file that outlives this process (consoles/scrollback_file.py).
        self._scrollback_file = scrollback_file
        self._channel = PtyChannel(process, self._pending.add, self._output_burst, self.check_exit,
                                   scrollback_file.append if scrollback_file is not None else None)
        self._scrollback = Scrollback(scrollback_bytes)
        if scrollback_file is not None:
            self._scrollback.append(scrollback_file.text())  # empty unless an earlier server filled it
        self._fanout = Fanout(limits, self._catch_up_frames, self._flow_changed)
        self._closed = False
        self._reap_scheduled = False
        self._reap_delay = _REAP_RETRY_FIRST
        self._on_exit = on_exit
        # Viewers that asked for a size, most recent last.
        self._sizers: list[Viewer] = []
        self._viewers_notice: object | None = None
        self._reaped = asyncio.Event()

    @property
    def finished(self) -> bool:
        return self.exit_status is not None

    @property
    def running(self) -> bool:
        return not self._closed and self.exit_status is None

    def start(self) -> None:
        """Start reading the PTY; call once, on the IOLoop that will serve it."""
        self._channel.start()

    # Viewers -----------------------------------------------------------

    def attach(self, viewer: Viewer) -> None:
        """Send ``setup`` and the scrollback replay to a new viewer, then live output."""
        if self._closed:
            viewer.end(frames.disconnect(CLOSED_REASON))
            return
        viewer.transmit(frames.setup(self.id, viewer.readonly, self.rows, self.cols,
                                     self.title, self.owner))
        replay = self._scrollback.snapshot()
        if replay:
            viewer.transmit(frames.stdout(replay))
        if self.exit_status is not None:
            viewer.transmit(frames.status(exit_status=self.exit_status))
            viewer.end(frames.disconnect(exit_message(self.exit_status)))
            return
        self._fanout.add(viewer)
        self._viewers_changed()

    def detach(self, viewer: Viewer) -> None:
        """Forget a viewer whose connection closed."""
        if self._fanout.remove(viewer):
            self._forget_size(viewer)
            self._viewers_changed()

    def viewers(self) -> list[tuple[str, bool]]:
        """``(username, readonly)`` of every attached connection."""
        return [(viewer.username, viewer.readonly) for viewer in self._fanout.viewers]

    def logins(self) -> set[tuple[str, str]]:
        """``(username, credential)`` of every attached connection, each pair once."""
        return {(viewer.username, viewer.credential) for viewer in self._fanout.viewers}

    def _connections_of(self, username: str, credential: str | None) -> list[Viewer]:
        return [viewer for viewer in self._fanout.viewers if viewer.username == username
                and credential in (None, viewer.credential)]

    def disconnect_user(self, username: str, reason: str, credential: str | None = None) -> int:
        """Close every connection of ``username`` (only those opened with ``credential``, if
        given) with ``["disconnect", reason]``; returns how many."""
        ended = self._connections_of(username, credential)
        for viewer in ended:
            self._fanout.end(viewer, frames.disconnect(reason))
            self._forget_size(viewer)
        if ended:
            self._viewers_changed()
        return len(ended)

    def set_readonly(self, username: str, readonly: bool, credential: str | None = None) -> int:
        """Let ``username``'s open connections (those opened with ``credential``, if given)
        type and resize, or stop them, at once.

        Each changed connection is told with ``["status", {"readonly": ...,
        "message": ...}]``; returns how many changed.
        """
        changed = [viewer for viewer in self._connections_of(username, credential)
                   if viewer.readonly != readonly]
        for viewer in changed:
            self._fanout.set_readonly(viewer, readonly)
            self._fanout.answer(viewer, frames.status(
                readonly=readonly, message=NOW_READ_ONLY if readonly else NOW_READ_WRITE))
            if readonly:
                self._forget_size(viewer)
        if changed:
            self._viewers_changed()
        return len(changed)

    def notify(self, notice: str, message: str) -> None:
        """Tell every viewer something about the console (e.g. it was moved to the tarpit)."""
        self._fanout.send(frames.status(notice=notice, message=message))

    def tell(self, viewer: Viewer, frame: Frame) -> None:
        """Answer something a viewer sent (notices, errors), even while it is paused."""
        self._fanout.answer(viewer, frame)

    def pause(self, viewer: Viewer) -> None:
        self._fanout.pause(viewer)

    def resume(self, viewer: Viewer) -> None:
        self._fanout.resume(viewer)

    def type_from(self, viewer: Viewer, text: str) -> bool:
        """Keystrokes from a viewer; False (and nothing written) for read-only viewers."""
        if viewer.readonly:
            return False
        self.send_input(text)
        return True

    def set_size(self, viewer: Viewer, rows: int, cols: int) -> bool:
        """A viewer's terminal size; the owner's wins, read-only viewers are ignored."""
        if viewer.readonly:
            return False
        viewer.size = (rows, cols)
        if viewer in self._sizers:
            self._sizers.remove(viewer)
        self._sizers.append(viewer)
        self._apply_size()
        return True

    def _forget_size(self, viewer: Viewer) -> None:
        if viewer in self._sizers:
            self._sizers.remove(viewer)
            self._apply_size()

    def _apply_size(self) -> None:
        owners = [viewer for viewer in self._sizers if viewer.username == self.owner]
        chooser = owners[-1] if owners else (self._sizers[-1] if self._sizers else None)
        if chooser is None or chooser.size is None or chooser.size == (self.rows, self.cols):
            return
        self.rows, self.cols = chooser.size
        if self._channel.open:
            try:
                self._process.set_size(self.rows, self.cols)
            except OSError as exc:
                log.debug("console %s: resize failed: %s", self.id, exc)
        # Viewers whose own size differs (read-only ones) show the console letterboxed.
        self._fanout.send(frames.status(size=[self.rows, self.cols]))

    def _viewers_changed(self) -> None:
        """Someone attached, left or changed mode: tell everyone soon, once per burst."""
        if self._viewers_notice is None and self.running:
            self._viewers_notice = self._loop.call_later(VIEWERS_NOTICE_DELAY, self._send_viewers)

    def _cancel_viewers_notice(self) -> None:
        if self._viewers_notice is not None:
            self._loop.remove_timeout(self._viewers_notice)
            self._viewers_notice = None

    def _send_viewers(self) -> None:
        self._viewers_notice = None
        viewers = self._fanout.viewers
        self._fanout.send(frames.status(viewers=len(viewers)))
        self._fanout.send(frames.watchers(self.viewers(), self.owner))

    def _catch_up_frames(self) -> list[Frame]:
        # A full reset, then the tail of the scrollback: what a viewer that
        # skipped output needs to show the screen as it is now.
        tail = self._scrollback.snapshot(self._fanout.limits.catch_up_bytes)
        return [frames.status(notice="skipped",
                              message="Output was skipped because this connection fell behind."),
                frames.status(viewers=len(self._fanout.viewers)),
                frames.stdout("\x1bc" + tail)]

    # Input -----------------------------------------------------------------

    def send_input(self, text: str) -> None:
        """Write to the program's terminal without blocking; queues what does not fit."""
        if not self._channel.open:
            raise ConsoleNotRunning("This console's program has ended; start a new console.")
        self._channel.write(text)

    # Output ----------------------------------------------------------------

    def _output_burst(self) -> None:
        """Everything one wakeup read from the terminal: kept for replays, sent as one frame.

        Sent at once, not on a later IOLoop turn: the channel already read
        the terminal dry, so waiting would add latency and merge nothing.
        """
        if self._pending:
            text, frame = self._pending.take()
            self._scrollback.append(text)
            self._fanout.send(frame)

    def _flow_changed(self) -> None:
        self._channel.hold(self._fanout.blocked)

    # End of the program ------------------------------------------------------

    def _reap_retry(self) -> None:
        self._reap_scheduled = False
        self.check_exit()

    def check_exit(self) -> None:
        """Notice a program that ended: its owner calls this now and then, since
        the PTY only reports end-of-file once *every* process holding it has gone."""
        status = self._process.poll()
        if status is not None:
            self._finish(status)
        elif not self._channel.open and not self._reap_scheduled:
            # The terminal is gone or the program was killed: the exit is
            # imminent, so look again soon (never wait for it).
            self._reap_scheduled = True
            self._loop.call_later(self._reap_delay, self._reap_retry)
            self._reap_delay = min(self._reap_delay * 2, _REAP_RETRY_MAX)

    def _finish(self, status: int) -> None:
        if self.exit_status is not None:
            return
        self.exit_status = status
        if self._channel.open:
            # Read what the program wrote before it ended (other processes may still hold the terminal).
            self._channel.drain(self._fanout.limits.high_watermark)
        self._channel.stop()
        self._process.release()
        self._reaped.set()
        if self._closed:
            return
        self._cancel_viewers_notice()
        self._fanout.send(frames.status(exit_status=status))
        for viewer in self._fanout.viewers:
            self._fanout.end(viewer, frames.disconnect(exit_message(status)))
        self._sizers.clear()
        if self._on_exit is not None:
            self._on_exit(self)

    def close(self, descendants: Iterable[psutil.Process] = ()) -> None:
        """Kill the program and ``descendants``, tell the viewers, free the terminal.

        ``descendants`` are the processes the program started, looked up
        beforehand off the IOLoop (background jobs of an interactive shell sit
        in process groups of their own, out of reach of the group kill).
        Returns at once; the reaping finishes on the IOLoop.
        """
        if self._closed:
            return
        self._closed = True
        self._on_exit = None
        if self._scrollback_file is not None:
            self._scrollback_file.remove()
        self._cancel_viewers_notice()
        for viewer in self._fanout.viewers:
            self._fanout.end(viewer, frames.disconnect(CLOSED_REASON))
        self._sizers.clear()
        self._channel.stop()
        if self.exit_status is None:
            self._process.kill()
            kill_processes(descendants)
            self.check_exit()

    def leave_running(self) -> None:
        """Let go of the program without ending it: this server stops, the node's holder
        keeps the program and its terminal, and the next server takes them back.

        Viewers are not told the console ended: their connections drop with
        the server, and they reconnect to the next one.
        """
        if self._closed:
            return
        self._closed = True
        self._on_exit = None
        self._cancel_viewers_notice()
        self._channel.stop()
        if self.exit_status is None:
            self._process.detach()
        if self._scrollback_file is not None:
            self._scrollback_file.close()

    async def wait_reaped(self) -> None:
        """Wait until the program has been reaped and its terminal freed."""
        await self._reaped.wait()

    # Reading the screen --------------------------------------------------------

    def output_tail(self, min_chars: int) -> str:
        """The newest output that :func:`consoles.screen.render_tail` may need to show
        ``min_chars`` characters of screen text (escape sequences included)."""
        return self._scrollback.snapshot(max(MAX_CHARS, min_chars * 2))
