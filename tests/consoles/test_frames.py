"""Encoding server messages once and parsing client messages strictly."""
from __future__ import annotations

import json

import pytest

from consoles import frames
from consoles.frames import BadMessage, Pause, Resume, SetSize, Stdin, parse_client_message


def test_a_frame_is_encoded_once_for_both_framings():
    frame = frames.stdout("naïve \x1b[1m€\r\n")
    assert json.loads(frame.text) == ["stdout", "naïve \x1b[1m€\r\n"]
    assert json.loads(json.loads(frame.sockjs)) == ["stdout", "naïve \x1b[1m€\r\n"]
    assert frame.sockjs.isascii()
    assert frame.sockjs is frame.sockjs  # computed once, then shared


@pytest.mark.parametrize("output", [
    "plain", 'quote " and backslash \\ and \\" both', "\r\n\t\x08\x0c\x1b[0m\x00\x07\x1f\x7f",
    "naïve €", "\u2028\u2029", "\ud83d\ude00 emoji", "\\u001b is text, not an escape", ""])
def test_the_sockjs_framing_is_exactly_json_of_the_message(output):
    frame = frames.stdout(output)
    assert frame.sockjs == json.dumps(frame.text)


@pytest.mark.parametrize("pieces", [
    ["plain"], ["base64+/=\r\n", "more\r\n", "end"], ['"quoted"', "\\", "\x1b[0m\x00\x7f", "naïve €"],
    ["\u2028", "\ud83d\ude00", "\r", "\n"]])
def test_a_batch_of_pieces_is_the_frame_of_their_text(pieces):
    batch = frames.StdoutBatch()
    for piece in pieces:
        batch.add(piece)
    assert batch
    text, frame = batch.take()
    assert text == "".join(pieces)
    assert frame.text == frames.stdout(text).text
    assert frame.sockjs == frames.stdout(text).sockjs
    assert not batch
    batch.add("next")
    assert batch.take()[0] == "next"  # the first take left nothing behind


def test_server_messages():
    assert json.loads(frames.setup("abc", True, 24, 80, "t", "alice").text) == [
        "setup", {"id": "abc", "readonly": True, "rows": 24, "cols": 80, "title": "t", "owner": "alice"}]
    assert json.loads(frames.status(viewers=2).text) == ["status", {"viewers": 2}]
    assert json.loads(frames.disconnect("bye").text) == ["disconnect", "bye"]


@pytest.mark.parametrize("raw, expected", [
    ('["stdin", "ls\\n"]', Stdin("ls\n")),
    ('["set_size", 24, 80]', SetSize(24, 80)),
    ('["set_size", 50, 132, 1000, 800]', SetSize(50, 132)),
    ('["pause"]', Pause()),
    ('["resume"]', Resume()),
])
def test_valid_client_messages(raw, expected):
    assert parse_client_message(raw) == expected


@pytest.mark.parametrize("raw, error", [
    (b'["stdin", "x"]', "JSON text"),
    (["stdin", "x"], "JSON text"),
    ("nope", "not valid JSON"),
    ('{"stdin": 1}', "JSON array starting with its type"),
    ("[]", "JSON array starting with its type"),
    ("[3]", "JSON array starting with its type"),
    ('["stdin"]', "stdin: expected"),
    ('["stdin", "a", "b"]', "stdin: expected"),
    ('["stdin", null]', "stdin: expected"),
    ('["set_size", 24]', "set_size: expected"),
    ('["set_size", 0, 80]', "rows must be a whole number from 1 to 1000, not 0"),
    ('["set_size", 24, 1001]', "cols must be a whole number from 1 to 1000, not 1001"),
    ('["set_size", 24.5, 80]', "rows must be a whole number"),
    ('["set_size", false, 80]', "rows must be a whole number"),
    ('["set_size", "24", 80]', 'not "24"'),
    ('["resize", 1, 2]', 'unknown message type "resize"'),
    ('["stdin", "' + "x" * (frames.MAX_CLIENT_MESSAGE) + '"]', "message too large"),
])
def test_bad_client_messages(raw, error):
    with pytest.raises(BadMessage, match=error.replace("[", r"\[").replace(".", r"\.")):
        parse_client_message(raw)
