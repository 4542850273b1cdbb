"""The byte-capped scrollback ring."""
from __future__ import annotations

import pytest

from consoles.scrollback import Scrollback, cut_front


def test_keeps_everything_under_the_cap():
    scrollback = Scrollback(1000)
    for part in ("a", "b" * 10, "\r\n", "c"):
        scrollback.append(part)
    assert scrollback.snapshot() == "a" + "b" * 10 + "\r\nc"
    assert len(scrollback) == 14


def test_cap_is_in_utf8_bytes_and_never_splits_a_character():
    scrollback = Scrollback(100)
    for _ in range(200):
        scrollback.append("€")  # three bytes each, no newline to cut at
    text = scrollback.snapshot()
    assert set(text) == {"€"}
    assert len(text.encode()) <= 100 and len(scrollback) == len(text.encode())
    assert len(text.encode()) >= 97


def test_cut_prefers_a_nearby_line_start():
    scrollback = Scrollback(64)
    for i in range(40):
        scrollback.append(f"line {i}\r\n")
    text = scrollback.snapshot()
    assert text.startswith("line ") and text.endswith("line 39\r\n")
    assert len(text.encode()) <= 64


def test_huge_single_append_is_cut_to_the_cap():
    scrollback = Scrollback(1024)
    scrollback.append("x" * 10_000 + "\nend")
    assert len(scrollback) <= 1024
    assert scrollback.snapshot().endswith("end")


def test_many_small_appends_stay_within_the_cap():
    scrollback = Scrollback(512 * 1024)
    for i in range(300_000):
        scrollback.append("é" if i % 2 else "k")
    assert len(scrollback) <= 512 * 1024
    assert len(scrollback.snapshot().encode()) == len(scrollback)


def test_snapshot_tail():
    scrollback = Scrollback(1000)
    for i in range(50):
        scrollback.append(f"{i:02d}\n")
    assert scrollback.snapshot(9) == "47\n48\n49\n"
    assert scrollback.snapshot(10) == "47\n48\n49\n"


@pytest.mark.parametrize("text, excess, expected", [
    ("abc", 0, "abc"), ("abc", 3, ""), ("aé€b", 2, "€b"), ("xx\nyy", 1, "yy"), ("€€", 1, "€"),
    ("ab\ncd", 3, "cd"), ("abcdef", 2, "cdef"), ("ab\ncd\nef", 1, "cd\nef"), ("abc", 5, ""),
])
def test_cut_front(text, excess, expected):
    assert cut_front(text, excess) == expected


def test_cutting_ascii_text_agrees_with_cutting_its_bytes():
    # A final "é" sends the same text down the byte-wise path.
    text = "".join(f"line {i}\r\n" if i % 7 else "x" * 3000 + "\n" for i in range(400))
    for excess in (1, 7, 8, 9, 10, 500, 2999, 3000, 3001, 4000, len(text) - 1):
        assert cut_front(text + "é", excess) == cut_front(text, excess) + "é", excess


def test_size_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        Scrollback(0)
