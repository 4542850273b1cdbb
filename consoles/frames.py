"""The messages of the console stream: encoded once on the way out, parsed strictly on the way in.

Every message is a JSON array whose first element names its type, the same
as terminado's so that its clients work (see ``docs/protocol.md``).
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# The largest client message accepted, in characters: a big paste fits,
# a runaway client does not.
MAX_CLIENT_MESSAGE = 1024 * 1024

# Terminal sizes outside this range are refused rather than clamped.
MAX_DIMENSION = 1000

# The viewers list names at most this many people; a count says how many in all.
MAX_WATCHERS = 50

# Encode a str as a JSON string, quotes included (json.dumps's own encoders
# for str).  Both give the same string for ASCII text without DEL (which only
# the first escapes), and the first, made for it, is about a fifth faster.
_JSON_ASCII_STRING = json.JSONEncoder(ensure_ascii=True)
_JSON_STRING = json.JSONEncoder(ensure_ascii=False)


class Frame:
    """A server → client message, JSON-encoded once however many viewers get it.

    ``text`` is the message itself (what a raw WebSocket sends).  SockJS
    carries messages as JSON strings inside its ``a[...]`` frames, so
    ``sockjs`` is ``text`` encoded once more as a JSON string, computed the
    first time a SockJS session needs it and then shared.
    """

    __slots__ = ("text", "_sockjs")

    def __init__(self, kind: str, *arguments: Any) -> None:
        self.text = json.dumps([kind, *arguments], ensure_ascii=False, separators=(",", ":"))
        self._sockjs: str | None = None

    @classmethod
    def encoded(cls, text: str) -> Frame:
        """A frame whose JSON text was built elsewhere (see :class:`StdoutBatch`)."""
        frame = cls.__new__(cls)
        frame.text = text
        frame._sockjs = None
        return frame

    @property
    def sockjs(self) -> str:
        # Pure ASCII, so its length is its size in bytes.
        if self._sockjs is None:
            text = self.text
            if text.isascii() and "\x7f" not in text:
                # ``text`` is JSON, so it holds no raw control character (json
                # escapes DEL only in ASCII mode): quoting it once more only
                # escapes backslashes and quotes, which two replace() calls do
                # at a fraction of json.dumps's cost.
                self._sockjs = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
            else:
                self._sockjs = json.dumps(text)
        return self._sockjs

    def __repr__(self) -> str:
        return f"Frame({self.text[:60]!r})"


def setup(console_id: str, readonly: bool, rows: int, cols: int, title: str, owner: str) -> Frame:
    return Frame("setup", {"id": console_id, "readonly": readonly, "rows": rows, "cols": cols,
                           "title": title, "owner": owner})


def stdout(text: str) -> Frame:
    return Frame("stdout", text)


class StdoutBatch:
    """Output read in pieces and sent as one ``stdout`` frame.

    Each piece is escaped as it is added, while the PTY refills (see
    ``consoles.pty_channel``), so sending the batch only joins strings.
    Escaping is per character, so the escaped pieces joined are the
    escaped whole: the frame equals ``stdout(joined text)``.
    """

    __slots__ = ("_texts", "_escaped")

    def __init__(self) -> None:
        self._texts: list[str] = []
        self._escaped: list[str] = []

    def __bool__(self) -> bool:
        return bool(self._texts)

    def add(self, text: str) -> None:
        self._texts.append(text)
        plain = text.isascii() and "\x7f" not in text
        self._escaped.append((_JSON_ASCII_STRING if plain else _JSON_STRING).encode(text))

    def take(self) -> tuple[str, Frame]:
        """The text added since the last take, and its frame; the batch is then empty."""
        texts, escaped = self._texts, self._escaped
        self._texts, self._escaped = [], []
        if len(texts) == 1:
            text, string = texts[0], escaped[0]
        else:
            text = "".join(texts)
            string = '"' + "".join([piece[1:-1] for piece in escaped]) + '"'
        return text, Frame.encoded('["stdout",' + string + "]")


def status(**fields: Any) -> Frame:
    return Frame("status", fields)


def disconnect(reason: str) -> Frame:
    return Frame("disconnect", reason)


def watchers(connections: Iterable[tuple[str, bool]], owner: str) -> Frame:
    """Who is attached, from ``(username, readonly)`` per connection: one entry per person,
    the owner first, then those who may type, then by name; at most :data:`MAX_WATCHERS`."""
    counts: dict[str, int] = {}
    typists: set[str] = set()
    for username, readonly in connections:
        counts[username] = counts.get(username, 0) + 1
        if not readonly:
            typists.add(username)
    names = sorted(counts, key=lambda name: (name != owner, name not in typists, name))
    listed = [{"username": name, "readonly": name not in typists, "connections": counts[name]}
              for name in names[:MAX_WATCHERS]]
    return status(watchers=listed, watchers_total=len(names))


class BadMessage(ValueError):
    """A client message that cannot be understood; the text is sent back to the client."""


@dataclass(frozen=True)
class Stdin:
    text: str


@dataclass(frozen=True)
class SetSize:
    rows: int
    cols: int


@dataclass(frozen=True)
class Pause:
    pass


@dataclass(frozen=True)
class Resume:
    pass


ClientMessage = Stdin | SetSize | Pause | Resume

_EXPECTED = 'expected ["stdin", text], ["set_size", rows, cols], ["pause"] or ["resume"]'


def _dimension(name: str, value: object) -> int:
    if type(value) is not int or not 1 <= value <= MAX_DIMENSION:
        raise BadMessage(f"set_size: {name} must be a whole number from 1 to {MAX_DIMENSION}, "
                         f"not {json.dumps(value)}")
    return value


def parse_client_message(raw: object) -> ClientMessage:
    """Turn one message from a client into a command, or raise :class:`BadMessage`."""
    if not isinstance(raw, str):
        raise BadMessage(f"messages must be JSON text; {_EXPECTED}")
    if len(raw) > MAX_CLIENT_MESSAGE:
        raise BadMessage(f"message too large ({len(raw)} characters; the limit is "
                         f"{MAX_CLIENT_MESSAGE}): send big pastes in pieces")
    try:
        message = json.loads(raw)
    except ValueError:
        raise BadMessage(f"message is not valid JSON; {_EXPECTED}") from None
    if not isinstance(message, list) or not message or not isinstance(message[0], str):
        raise BadMessage(f"message must be a JSON array starting with its type; {_EXPECTED}")
    kind = message[0]
    if kind == "stdin":
        if len(message) != 2 or not isinstance(message[1], str):
            raise BadMessage('stdin: expected ["stdin", text]')
        return Stdin(message[1])
    if kind == "set_size":
        # terminado's clients send two more numbers (pixel sizes): ignored.
        if len(message) < 3:
            raise BadMessage('set_size: expected ["set_size", rows, cols]')
        return SetSize(_dimension("rows", message[1]), _dimension("cols", message[2]))
    if kind == "pause":
        return Pause()
    if kind == "resume":
        return Resume()
    raise BadMessage(f"unknown message type {json.dumps(kind)[:80]}; {_EXPECTED}")
