"""A program's PTY master on the IOLoop: output read in bursts, input written as it fits.

A PTY hands over a few KiB per read; the next read waits (asleep) until the
kernel has moved the next few KiB across, so each piece read is handed on at
once (``on_text``) and whatever the console does with it, decoding and
escaping it for the wire, overlaps that refill; the end of the burst
(``on_burst``) is when the console sends it.

Nothing here blocks.  The master is non-blocking and watched with
``add_handler`` for exactly what is needed at the moment: output unless the
console holds it back (flow control), writability while input waits.
"""
from __future__ import annotations

import codecs
import errno
import logging
import os
import time
from collections.abc import Callable

from tornado.ioloop import IOLoop

from sandbox import SandboxedProcess

log = logging.getLogger(__name__)

# Reads from and writes to the terminal are done in pieces of this size.
READ_SIZE = 64 * 1024
# A PTY hands over a few KiB per read, refilled as fast as the program
# writes: one wakeup reads on until the terminal is empty, up to this much,
# so a burst of output goes out as one frame instead of one per read...
READ_BUDGET = 64 * 1024
# ...and for at most this long (seconds).  Reading a fast producer frees room
# that it fills at once; chasing it would hold up every other console (and,
# on a busy machine, get this process preempted mid-burst).
READ_TIME = 0.0005
# A wakeup whose first read finds less than this (a keystroke's echo, a
# prompt) reads no more: the terminal is most likely empty, and asking again
# is not free, since a read of an empty PTY first waits for the kernel's
# worker to pass on what it may still hold (about a tenth of a millisecond on
# each keystroke).  Within a burst, small reads are normal and go on.
SMALL_READ = 1024
# A wakeup that finds this much waiting belongs to a program printing in
# bulk.  While another such program is streaming, each wakeup reads once:
# several floods then take turns a read at a time, in small frames, and
# typing in a third console is not queued behind their bursts.
STREAMING_READ = 2048
# Input waiting for a program that does not read it; more is refused.
MAX_PENDING_INPUT = 1024 * 1024


class InputBufferFull(Exception):
    """The program is not reading its input and too much is already waiting."""


class PtyChannel:
    """Reads a program's output as text and writes its input, on the current IOLoop.

    ``on_text`` gets each piece of output as decoded text, as soon as it is
    read (a UTF-8 character split across reads is kept for the next one;
    invalid bytes become U+FFFD); ``on_burst`` follows the last piece of
    each wakeup; ``on_eof`` is called once, when every process holding the
    terminal has gone.  ``on_bytes`` gets each read as it came, before it is
    decoded (the console's copy of its output that outlives this process).
    """

    # The channels of this process (one IOLoop) whose last wakeup found bulk output.
    _streaming: set[PtyChannel] = set()

    def __init__(self, process: SandboxedProcess, on_text: Callable[[str], None],
                 on_burst: Callable[[], None], on_eof: Callable[[], None],
                 on_bytes: Callable[[bytes], None] | None = None) -> None:
        self._process = process
        self._on_bytes = on_bytes
        self._fd = process.fd
        self._loop = IOLoop.current()
        self._on_text = on_text
        self._on_burst = on_burst
        self._on_eof = on_eof
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._input = bytearray()
        self._events = 0
        self._held = False
        # False once the terminal reported end-of-file or the console stopped it.
        self.open = True

    def start(self) -> None:
        self._update_events()

    def hold(self, held: bool) -> None:
        """Stop reading output while ``held`` (the viewers cannot take more), then go on."""
        self._held = held
        self._update_events()

    def stop(self) -> None:
        """Neither read nor write any more; pending input is dropped."""
        self.open = False
        self._input.clear()
        PtyChannel._streaming.discard(self)
        self._update_events()

    # Input -----------------------------------------------------------------

    def write(self, text: str) -> None:
        """Write to the program's terminal without blocking; queues what does not fit."""
        data = text.encode("utf-8", errors="replace")
        if len(self._input) + len(data) > MAX_PENDING_INPUT:
            raise InputBufferFull(f"The program is not reading its input ({len(self._input)} bytes are "
                                  f"waiting); input was dropped. Try again once it catches up.")
        self._input += data
        self._write_input()

    def _write_input(self) -> None:
        while self._input:
            try:
                written = self._process.write(bytes(self._input[:READ_SIZE]))
            except OSError:
                self._input.clear()  # the terminal is gone; end-of-file handling follows
                break
            if written == 0:
                break
            del self._input[:written]
        self._update_events()

    # Output ----------------------------------------------------------------

    def _on_event(self, fd: int, events: int) -> None:
        if events & IOLoop.WRITE:
            self._write_input()
        if events & (IOLoop.READ | IOLoop.ERROR):
            self._read()

    def _read(self) -> None:
        size = 0
        eof = False
        deadline = time.perf_counter() + READ_TIME
        alone = PtyChannel._streaming <= {self}
        while size < READ_BUDGET:
            if size and (not alone or size < SMALL_READ or time.perf_counter() > deadline):
                break
            try:
                data = os.read(self._fd, READ_SIZE)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno != errno.EIO:  # EIO: every process holding the terminal has gone
                    log.warning("reading the terminal of pid %s failed: %s", self._process.pid, exc)
                data = b""
            if not data:
                eof = True
                break
            size += len(data)
            if self._on_bytes is not None:
                self._on_bytes(data)
            self._emit(self._decoder.decode(data))
        if size >= STREAMING_READ:
            PtyChannel._streaming.add(self)
        else:
            PtyChannel._streaming.discard(self)
        if eof:
            self.stop()
            self._emit(self._decoder.decode(b"", final=True))
        self._on_burst()
        if eof:
            self._on_eof()

    def drain(self, budget: int) -> None:
        """Read up to ``budget`` bytes still in the terminal, then stop (the program has ended)."""
        while self.open and budget > 0:
            try:
                data = os.read(self._fd, min(READ_SIZE, budget))
            except OSError:
                break
            if not data:
                break
            budget -= len(data)
            if self._on_bytes is not None:
                self._on_bytes(data)
            self._emit(self._decoder.decode(data))
            self._on_burst()
        self._emit(self._decoder.decode(b"", final=True))
        self._on_burst()
        self.stop()

    def _emit(self, text: str) -> None:
        if text:
            self._on_text(text)

    def _update_events(self) -> None:
        """Watch the PTY for what is needed now: output unless held, writability if input waits."""
        wanted = 0
        if self.open:
            if not self._held:
                wanted |= IOLoop.READ
            if self._input:
                wanted |= IOLoop.WRITE
        if wanted == self._events:
            return
        if self._events == 0:
            self._loop.add_handler(self._fd, self._on_event, wanted)
        elif wanted == 0:
            self._loop.remove_handler(self._fd)
        else:
            self._loop.update_handler(self._fd, wanted)
        self._events = wanted
