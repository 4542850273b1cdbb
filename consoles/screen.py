"""A compact terminal renderer: console output in, the text a terminal would show out.

Used for ``get_latest_output``, off the hot path: it interprets printable
text, CR/LF/BS/TAB, cursor movement, erasing, inserting and deleting lines
and characters, scroll regions and the alternate screen, and swallows every
other sequence (colours, titles, modes).  Each character takes one cell.
"""
from __future__ import annotations

import re

DEFAULT_HISTORY_LINES = 5000

_TOKEN = re.compile(r"""
    (?P<text>[^\x00-\x1f\x7f-\x9f]+)
  | (?P<crlf>\r\n)
  | (?P<csi>\x1b\[(?P<params>[0-?]*)[ -/]*(?P<final>[@-~]))
  | (?P<osc>\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?)
  | (?P<string>\x1b[PX^_][^\x1b]*(?:\x1b\\)?)
  | (?P<esc>\x1b(?P<intermediate>[ -/]*)(?P<esc_final>[0-~]))
  | (?P<control>[\x00-\x1f\x7f-\x9f])
""", re.VERBOSE)

_ALTERNATE_SCREEN_MODES = {47, 1047, 1049}


class _Line(list[str]):
    """One row of cells; ``wrapped`` when it continues the row above (autowrap)."""

    __slots__ = ("wrapped",)

    def __init__(self) -> None:
        super().__init__()
        self.wrapped = False


class Screen:
    """The terminal state: history plus a ``rows`` × ``cols`` screen and a cursor."""

    def __init__(self, rows: int = 24, cols: int = 80, history: int = DEFAULT_HISTORY_LINES) -> None:
        self.rows = max(1, rows)
        self.cols = max(1, cols)
        self.history = history
        self._reset()

    def _reset(self) -> None:
        self._lines = [_Line() for _ in range(self.rows)]
        self._x = 0
        self._y = 0
        self._wrap_pending = False
        self._top = 0
        self._bottom = self.rows - 1
        self._saved_cursor = (0, 0)
        self._main_screen: tuple[list[_Line], int, int] | None = None

    # Feeding -----------------------------------------------------------------

    def feed(self, text: str) -> None:
        for match in _TOKEN.finditer(text):
            kind = match.lastgroup
            if kind == "text":
                self._write(match.group())
            elif kind == "crlf":
                self._carriage_return()
                self._linefeed()
            elif kind == "csi":
                self._csi(match.group("params"), match.group("final"))
            elif kind == "esc":
                self._esc(match.group("intermediate"), match.group("esc_final"))
            elif kind == "control":
                self._control(match.group())
            # osc and string sequences (titles, DCS…) are swallowed

    def _row(self, y: int) -> _Line:
        return self._lines[len(self._lines) - self.rows + y]

    def _write(self, text: str) -> None:
        while text:
            if self._wrap_pending:
                self._wrap_pending = False
                self._carriage_return()
                self._linefeed()
                self._row(self._y).wrapped = True
            part, text = text[:self.cols - self._x], text[self.cols - self._x:]
            line = self._row(self._y)
            if len(line) < self._x:
                line.extend(" " * (self._x - len(line)))
            line[self._x:self._x + len(part)] = part
            self._x += len(part)
            if self._x >= self.cols:
                self._x = self.cols - 1
                self._wrap_pending = True

    def _control(self, char: str) -> None:
        if char == "\r":
            self._carriage_return()
        elif char in "\n\x0b\x0c":
            self._linefeed()
        elif char == "\b":
            self._move_to(self._x - 1, self._y)
        elif char == "\t":
            self._move_to(min(self.cols - 1, (self._x // 8 + 1) * 8), self._y)
        # BEL, SO/SI and the other controls change nothing on screen

    def _carriage_return(self) -> None:
        self._x = 0
        self._wrap_pending = False

    def _linefeed(self) -> None:
        self._wrap_pending = False
        if self._y == self._bottom:
            self._scroll_up(1)
        elif self._y < self.rows - 1:
            self._y += 1

    def _reverse_linefeed(self) -> None:
        self._wrap_pending = False
        if self._y == self._top:
            self._scroll_down(1)
        elif self._y > 0:
            self._y -= 1

    def _move_to(self, x: int, y: int) -> None:
        self._x = min(max(x, 0), self.cols - 1)
        self._y = min(max(y, 0), self.rows - 1)
        self._wrap_pending = False

    # Scrolling -------------------------------------------------------------------

    def _scroll_up(self, count: int) -> None:
        full_screen = self._top == 0 and self._bottom == self.rows - 1
        if full_screen and self._main_screen is None:
            # Lines scrolled off the main screen become history.
            self._lines.extend(_Line() for _ in range(min(count, self.rows)))
            overflow = len(self._lines) - self.rows - self.history
            if overflow > 512:
                del self._lines[:overflow]
            return
        self._delete_rows(self._top, count)

    def _scroll_down(self, count: int) -> None:
        self._insert_rows(self._top, count)

    def _delete_rows(self, y: int, count: int) -> None:
        """Delete rows at ``y`` inside the scroll region; blank rows enter at its bottom."""
        if not self._top <= y <= self._bottom:
            return
        base = len(self._lines) - self.rows
        count = min(count, self._bottom - y + 1)
        del self._lines[base + y:base + y + count]
        for _ in range(count):
            self._lines.insert(base + self._bottom - count + 1, _Line())

    def _insert_rows(self, y: int, count: int) -> None:
        """Insert blank rows at ``y`` inside the scroll region; rows fall off its bottom."""
        if not self._top <= y <= self._bottom:
            return
        base = len(self._lines) - self.rows
        count = min(count, self._bottom - y + 1)
        del self._lines[base + self._bottom - count + 1:base + self._bottom + 1]
        for _ in range(count):
            self._lines.insert(base + y, _Line())

    # Escape sequences ---------------------------------------------------------------

    def _esc(self, intermediate: str, final: str) -> None:
        if intermediate:
            return  # character set designations and the like
        if final == "7":
            self._saved_cursor = (self._x, self._y)
        elif final == "8":
            self._move_to(*self._saved_cursor)
        elif final == "D":
            self._linefeed()
        elif final == "E":
            self._carriage_return()
            self._linefeed()
        elif final == "M":
            self._reverse_linefeed()
        elif final == "c":
            self._reset()

    def _csi(self, params: str, final: str) -> None:
        private = params[:1] in ("?", ">", "<", "=")
        numbers = [int(p) if p.isdigit() else 0
                   for p in (params[1:] if private else params).split(";")]
        if private:
            if final in "hl" and _ALTERNATE_SCREEN_MODES.intersection(numbers):
                self._alternate_screen(final == "h")
            return

        def arg(index: int = 0, default: int = 1) -> int:
            value = numbers[index] if index < len(numbers) else 0
            return value or default

        x, y = self._x, self._y
        if final == "A":
            self._move_to(x, y - arg())
        elif final in "Be":
            self._move_to(x, y + arg())
        elif final in "Ca":
            self._move_to(x + arg(), y)
        elif final == "D":
            self._move_to(x - arg(), y)
        elif final == "E":
            self._move_to(0, y + arg())
        elif final == "F":
            self._move_to(0, y - arg())
        elif final in "G`":
            self._move_to(arg() - 1, y)
        elif final in "Hf":
            self._move_to(arg(1) - 1, arg(0) - 1)
        elif final == "d":
            self._move_to(x, arg() - 1)
        elif final == "J":
            self._erase_display(arg(default=0))
        elif final == "K":
            self._erase_line(arg(default=0))
        elif final == "L":
            self._insert_rows(y, arg())
        elif final == "M":
            self._delete_rows(y, arg())
        elif final == "@":
            line = self._row(y)
            if len(line) > x:
                line[x:x] = " " * arg()
                del line[self.cols:]
        elif final == "P":
            del self._row(y)[x:x + arg()]
        elif final == "X":
            line = self._row(y)
            end = min(x + arg(), len(line))
            line[x:end] = " " * max(0, end - x)
        elif final == "S":
            self._scroll_up(arg())
        elif final == "T":
            self._scroll_down(arg())
        elif final == "r":
            top, bottom = arg(0) - 1, arg(1, self.rows) - 1
            if 0 <= top < bottom < self.rows:
                self._top, self._bottom = top, bottom
                self._move_to(0, 0)
        elif final == "s":
            self._saved_cursor = (x, y)
        elif final == "u":
            self._move_to(*self._saved_cursor)
        # SGR (m), reports, tab stops and modes are swallowed

    def _erase_line(self, mode: int) -> None:
        line = self._row(self._y)
        if mode == 0:
            del line[self._x:]
        elif mode == 1:
            line[:self._x + 1] = " " * (self._x + 1)
        elif mode == 2:
            line.clear()

    def _erase_display(self, mode: int) -> None:
        base = len(self._lines) - self.rows
        if mode == 0:
            self._erase_line(0)
            below = range(base + self._y + 1, len(self._lines))
        elif mode == 1:
            self._erase_line(1)
            below = range(base, base + self._y)
        elif mode == 2:
            below = range(base, len(self._lines))
        elif mode == 3:
            del self._lines[:base]
            return
        else:
            return
        for index in below:
            self._lines[index] = _Line()

    def _alternate_screen(self, enter: bool) -> None:
        """Full-screen programs draw on a separate screen that disappears when they end."""
        if enter and self._main_screen is None:
            self._main_screen = (self._lines, self._x, self._y)
            self._lines = [_Line() for _ in range(self.rows)]
        elif not enter and self._main_screen is not None:
            self._lines, self._x, self._y = self._main_screen
            self._main_screen = None
            self._wrap_pending = False

    # Reading ------------------------------------------------------------------------------

    def lines(self) -> list[str]:
        """History and screen as text lines.

        Rows continued by autowrap are joined; trailing spaces and trailing
        blank lines are dropped.
        """
        logical: list[str] = []
        for line in self._lines:
            if line.wrapped and logical:
                logical[-1] += "".join(line)
            else:
                logical.append("".join(line))
        result = [line.rstrip(" ") for line in logical]
        while result and not result[-1]:
            result.pop()
        return result


def render_tail(text: str, rows: int, cols: int, min_chars: int) -> str:
    """Render ``text``; its last lines, at least ``min_chars`` characters when there are that many."""
    # Keep every line of ``text`` as history: the caller already chose how much to render.
    screen = Screen(rows, cols, history=text.count("\n") + 1)
    screen.feed(text)
    lines = screen.lines()
    taken: list[str] = []
    size = 0
    for line in reversed(lines):
        taken.append(line)
        size += len(line) + 1
        if size > min_chars:
            break
    return "\n".join(reversed(taken))
