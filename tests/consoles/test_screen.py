"""The terminal renderer behind get_latest_output."""
from __future__ import annotations

import pytest

from consoles.screen import ScreenRenderer, render_lines, render_tail


def render(text: str, rows: int = 5, cols: int = 20) -> list[str]:
    return render_lines(text, rows, cols)


@pytest.mark.parametrize("text, expected", [
    ("abc\rX\r\n", ["Xbc"]),
    ("a\tb", ["a       b"]),
    ("abc\b\bZ", ["aZc"]),
    ("one\ntwo", ["one", "   two"]),  # LF alone moves down, not back
    ("\x1b[01;34mblue\x1b[0m plain\x1b[K", ["blue plain"]),
    ("\x1b]0;a title\x07text\x1b]2;other\x1b\\", ["text"]),
    ("\x1bP1$r0m\x1b\\dcs gone", ["dcs gone"]),
    ("\x1b(B\x1b)0charset", ["charset"]),
    ("\x1b[?25l\x1b[?2004hmodes\x1b[?25h", ["modes"]),
    ("bell\x07 and nul\x00", ["bell and nul"]),
])
def test_sequences(text, expected):
    assert render(text) == expected


def test_cursor_addressing_and_erasing():
    lines = render("11111\r\n22222\r\n33333\x1b[2;3HX\x1b[1;1H\x1b[2K\x1b[3;4H\x1b[0K")
    assert lines == ["", "22X22", "333"]
    assert render("abcdef\x1b[3D\x1b[1K") == ["    ef"]
    assert render("line1\r\nline2\r\nline3\x1b[2;1H\x1b[0J") == ["line1"]
    assert render("line1\r\nline2\r\nline3\x1b[2;2H\x1b[1J") == ["", "  ne2", "line3"]
    assert render("a\r\nb\x1b[2J\x1b[Hc") == ["c"]
    assert render("ab\x1b[5Gc\x1b[2;3Hd\x1b[A\x1b[Ce\x1b[3dz") == ["ab  e", "  d", "     z"]


def test_insert_and_delete_characters_and_lines():
    assert render("abcdef\x1b[1;3H\x1b[2P") == ["abef"]
    assert render("abcdef\x1b[1;3H\x1b[2@") == ["ab  cdef"]
    assert render("abcdef\x1b[1;2H\x1b[3X") == ["a   ef"]
    assert render("1\r\n2\r\n3\x1b[2;1H\x1b[L") == ["1", "", "2", "3"]
    assert render("1\r\n2\r\n3\x1b[1;1H\x1b[2M") == ["3"]


def test_lines_scroll_into_history_and_wrap():
    lines = render("".join(f"row{i}\r\n" for i in range(12)) + "end", rows=3)
    assert lines == [f"row{i}" for i in range(12)] + ["end"]
    assert render("x" * 25 + "\r\nnext", cols=10) == ["x" * 25, "next"]
    # A line exactly as wide as the screen does not produce an empty line.
    assert render("y" * 10 + "\r\nz", cols=10) == ["y" * 10, "z"]


def test_scroll_region_keeps_the_rest_of_the_screen():
    text = "top\r\n\x1b[2;4r\x1b[2;1Ha\r\nb\r\nc\r\nd\x1b[r\x1b[5;1Hstatus"
    assert render(text) == ["top", "b", "c", "d", "status"]
    assert render("a\r\nb\r\nc\x1b[1;1H\x1bM") == ["", "a", "b", "c"]


def test_alternate_screen_disappears_when_left():
    text = "before\r\n\x1b[?1049h\x1b[2J\x1b[Hfull screen app\x1b[?1049lafter"
    assert render(text) == ["before", "after"]
    # The cursor keeps its row on the alternate screen, which starts empty.
    assert render("before\r\n\x1b[?1049hinside") == ["", "inside"]


def test_reset_and_saved_cursor():
    assert render("old\x1bcnew") == ["new"]
    assert render("ab\x1b7\r\nxyz\x1b8c") == ["abc", "xyz"]
    assert render("ab\x1b[s\r\nxyz\x1b[uc") == ["abc", "xyz"]


def test_unfinished_sequences_at_the_end_are_dropped():
    assert render("text\x1b[3") == ["text"]  # not finished yet: nothing of it is shown
    assert render("text\x1b") == ["text"]
    assert render("text\x1b]0;unterminated") == ["text"]


def test_render_tail_returns_whole_lines_reaching_min_chars():
    text = "".join(f"line {i:03d}\r\n" for i in range(100))
    tail = render_tail(text, 24, 80, 30)
    assert tail.splitlines() == ["line 096", "line 097", "line 098", "line 099"]
    assert render_tail("short\r\n", 24, 80, 500) == "short"


def test_wide_characters_take_two_cells():
    # Each CJK character and the emoji take two columns, as in xterm.js: the
    # cursor addressing after them lands where the terminal puts it.
    assert render("你好, 世界\r\n") == ["你好, 世界"]
    assert render("🙂 smile 🐍\r\n") == ["🙂 smile 🐍"]
    assert render("你好\x1b[5GX") == ["你好X"]
    assert render("ab🙂\x1b[1;5HZ") == ["ab🙂Z"]
    # Wrapping counts cells, not characters: 12 wide characters need 24 columns.
    assert render("世" * 12 + "\r\nnext", cols=20) == ["世" * 12, "next"]


@pytest.mark.gen_test(timeout=60)
async def test_the_renderer_works_in_its_worker_process():
    renderer = ScreenRenderer()
    try:
        text = "".join(f"行 {i} 🙂\r\n" for i in range(50))
        assert await renderer.render_tail(text, 24, 80, 20) == render_tail(text, 24, 80, 20)
        assert (await renderer.render_tail(text, 24, 80, 20)).endswith("行 49 🙂")
    finally:
        renderer.close()
