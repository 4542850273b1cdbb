"""The recent output of a console, kept to replay it to whoever attaches.

Capped in UTF-8 bytes rather than in chunks (terminado's cap counts reads,
so a program printing long lines could hold far more memory than meant).
"""
from __future__ import annotations

from collections import deque

DEFAULT_SCROLLBACK_BYTES = 512 * 1024

# Small appends (keystroke echoes) are merged into the last chunk so the
# deque stays short; bigger ones are kept as they come.
_MERGE_BELOW = 8 * 1024

# How far past a cut we look for a newline to start the replay on a line.
_LINE_SEARCH_BYTES = 2 * 1024


def utf8_length(text: str) -> int:
    """Bytes ``text`` takes in UTF-8, without encoding the common ASCII case."""
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def cut_front(text: str, excess: int) -> str:
    """Drop at least ``excess`` UTF-8 bytes from the start of ``text``.

    Never splits a character; moves the cut to just after a newline when one
    is close, so a replay starts at the beginning of a line.
    """
    if excess <= 0:
        return text
    if text.isascii():  # a byte per character: cut the text itself, no encoding round trip
        if excess >= len(text):
            return ""
        newline = -1 if text[excess - 1] == "\n" else text.find("\n", excess, excess + _LINE_SEARCH_BYTES)
        return text[excess if newline == -1 else newline + 1:]
    data = text.encode("utf-8")
    if excess >= len(data):
        return ""
    start = excess
    while start < len(data) and data[start] & 0xC0 == 0x80:
        start += 1  # skip continuation bytes: start on a character boundary
    if data[start - 1:start] != b"\n":
        newline = data.find(b"\n", start, start + _LINE_SEARCH_BYTES)
        if newline != -1:
            start = newline + 1
    return data[start:].decode("utf-8")


class Scrollback:
    """A ring of output text holding at most ``max_bytes`` UTF-8 bytes."""

    def __init__(self, max_bytes: int = DEFAULT_SCROLLBACK_BYTES) -> None:
        if max_bytes <= 0:
            raise ValueError(f"scrollback size must be positive, not {max_bytes}")
        self.max_bytes = max_bytes
        self._chunks: deque[str] = deque()
        self._sizes: deque[int] = deque()
        self._total = 0

    def __len__(self) -> int:
        """Bytes held now."""
        return self._total

    def append(self, text: str) -> None:
        """Add output; the oldest text goes once the cap is passed."""
        if not text:
            return
        size = utf8_length(text)
        if self._chunks and self._sizes[-1] < _MERGE_BELOW and size < _MERGE_BELOW:
            self._chunks[-1] += text
            self._sizes[-1] += size
        else:
            self._chunks.append(text)
            self._sizes.append(size)
        self._total += size
        self._trim()

    def _trim(self) -> None:
        excess = self._total - self.max_bytes
        while excess > 0 and self._sizes[0] <= excess:
            dropped = self._sizes.popleft()
            self._chunks.popleft()
            self._total -= dropped
            excess -= dropped
        if excess > 0:
            first = cut_front(self._chunks[0], excess)
            self._total -= self._sizes[0] - utf8_length(first)
            self._chunks[0] = first
            self._sizes[0] = utf8_length(first)

    def snapshot(self, max_bytes: int | None = None) -> str:
        """All text held, or only its last ``max_bytes`` bytes (cut as :func:`cut_front`)."""
        text = "".join(self._chunks)
        if max_bytes is not None and self._total > max_bytes:
            text = cut_front(text, self._total - max_bytes)
        return text
