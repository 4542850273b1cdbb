"""The text a terminal would show for a console's output, rendered by pyte.

Used for ``get_latest_output``: pyte (with wcwidth) interprets the output
as a VT terminal does, so CJK characters and emoji take the two cells they
take in xterm.js.  On top of pyte, this module adds the two things a
*transcript* needs and a screen does not: rows continued by autowrap are
joined back into the line the program printed, and a full-screen program
on the alternate screen leaves no trace once it exits (as in a terminal's
scrollback).  pyte is pure Python, about 4 ms per KiB of output here, so
rendering runs in a worker process (:class:`ScreenRenderer`), never on the
IOLoop.
"""
from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import pyte
from pyte.screens import Char, Cursor, StaticDefaultDict

from consoles.worker_pool import WorkerDied, WorkerPool

# DCS, SOS, PM and APC strings, up to their terminator (or the end of the text).
_CONTROL_STRING = re.compile(r"\x1b[PX^_][^\x1b\x07]*(?:\x1b\\|\x07|$)")
# The modes that switch to the alternate screen (xterm's 47, 1047 and 1049).
_ALTERNATE_SCREEN_MODES = {47, 1047, 1049}
# Rendering starts with the newest 16 KiB and grows while that shows too little text.
FIRST_CHARS = 16 * 1024
MAX_CHARS = 64 * 1024


class _Row(StaticDefaultDict[int, Char]):
    """One row of cells; ``wrapped`` when autowrap continued the row above into it."""

    wrapped = False


class TranscriptScreen(pyte.HistoryScreen):
    """A pyte screen whose history and rows read back as the lines the program printed."""

    def __init__(self, columns: int, lines: int, history: int) -> None:
        super().__init__(max(1, columns), max(1, lines), history=max(1, history), ratio=0.5)
        self.buffer = defaultdict(lambda: _Row(self.default_char))
        self._drawing = False
        self._main_screen: tuple[dict[int, StaticDefaultDict[int, Char]], Cursor] | None = None

    def draw(self, data: str) -> None:
        self._drawing = True
        try:
            super().draw(data)
        finally:
            self._drawing = False

    def linefeed(self) -> None:
        super().linefeed()
        if self._drawing:  # pyte wraps by a carriage return and a line feed inside draw()
            row = self.buffer[self.cursor.y]
            if isinstance(row, _Row):
                row.wrapped = True

    def index(self) -> None:
        top = self.margins.top if self.margins else 0
        if self._main_screen is not None or top != 0:
            # As in xterm, only lines scrolled off the top of the main screen
            # become history: not those of the alternate screen or a scroll region.
            pyte.Screen.index(self)
        else:
            super().index()

    def insert_lines(self, count: int | None = None) -> None:
        self._materialize_rows()
        super().insert_lines(count)

    def delete_lines(self, count: int | None = None) -> None:
        self._materialize_rows()
        super().delete_lines(count)

    def _materialize_rows(self) -> None:
        # pyte 0.8's insert_lines and delete_lines move only rows present in its
        # sparse buffer and leave stale text where an empty row should move in.
        for y in range(self.lines):
            self.buffer[y]

    def save_cursor_sco(self, *params: int, **kwargs: Any) -> None:
        """CSI s: as ESC 7 (pyte's save_cursor takes no parameters)."""
        self.save_cursor()

    def restore_cursor_sco(self, *params: int, **kwargs: Any) -> None:
        """CSI u: as ESC 8."""
        self.restore_cursor()

    def set_mode(self, *modes: int, **kwargs: Any) -> None:
        if kwargs.get("private") and _ALTERNATE_SCREEN_MODES.intersection(modes):
            if self._main_screen is None:
                self._main_screen = (dict(self.buffer), self.cursor)
                self.buffer.clear()
                self.cursor = Cursor(self.cursor.x, self.cursor.y, self.cursor.attrs)
        super().set_mode(*modes, **kwargs)

    def reset_mode(self, *modes: int, **kwargs: Any) -> None:
        if kwargs.get("private") and _ALTERNATE_SCREEN_MODES.intersection(modes):
            if self._main_screen is not None:
                rows, self.cursor = self._main_screen
                self._main_screen = None
                self.buffer.clear()
                self.buffer.update(rows)
        super().reset_mode(*modes, **kwargs)

    def transcript(self) -> list[str]:
        """History and screen as text lines: wrapped rows joined, trailing blanks dropped."""
        rows = [*self.history.top, *(self.buffer[y] for y in range(self.lines))]
        logical: list[str] = []
        for row in rows:
            text = "".join(row[x].data for x in range(self.columns)) if row else ""
            if getattr(row, "wrapped", False) and logical:
                logical[-1] += text
            else:
                logical.append(text)
        result = [line.rstrip(" ") for line in logical]
        while result and not result[-1]:
            result.pop()
        return result


class _Stream(pyte.Stream):
    """pyte's parser with the SCO save/restore cursor sequences (CSI s, CSI u) that bash's
    readline and many prompts use."""

    csi = {**pyte.Stream.csi, "s": "save_cursor_sco", "u": "restore_cursor_sco"}


def render_lines(text: str, rows: int, cols: int) -> list[str]:
    """``text`` as the lines a ``rows`` × ``cols`` terminal (with unbounded history) shows."""
    screen = TranscriptScreen(cols, rows, history=text.count("\n") + 1)
    # pyte would print the body of DCS, SOS, PM and APC strings as text; a terminal never does.
    _Stream(screen).feed(_CONTROL_STRING.sub("", text))
    return screen.transcript()


def render_tail(text: str, rows: int, cols: int, min_chars: int) -> str:
    """The last lines of ``text`` rendered, at least ``min_chars`` characters when there are that many.

    Renders the newest ``FIRST_CHARS`` first and more only when escape
    sequences left too little text (a full-screen program redrawing).
    """
    budget = max(FIRST_CHARS, min_chars * 2)
    limit = max(MAX_CHARS, min_chars * 2)
    while True:
        lines = render_lines(text[-budget:], rows, cols)
        taken: list[str] = []
        size = 0
        for line in reversed(lines):
            taken.append(line)
            size += len(line) + 1
            if size > min_chars:
                break
        tail = "\n".join(reversed(taken))
        if len(tail) >= min_chars or budget >= min(limit, len(text)):
            return tail
        budget = min(budget * 4, limit)


class ScreenRenderer:
    """Renders in one worker process (see ``consoles.worker_pool``), so a slow render never
    holds up anyone's typing."""

    def __init__(self) -> None:
        self._workers = WorkerPool(1)

    async def render_tail(self, text: str, rows: int, cols: int, min_chars: int) -> str:
        """:func:`render_tail` in the worker; a worker that died is replaced once."""
        try:
            return await self._workers.run(render_tail, text, rows, cols, min_chars)
        except WorkerDied:
            return await self._workers.run(render_tail, text, rows, cols, min_chars)

    def close(self) -> None:
        """Stop the worker (at shutdown)."""
        self._workers.close()
