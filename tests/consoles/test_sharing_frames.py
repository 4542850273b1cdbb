"""The viewers list every connection is sent: one entry per person, owner and typists first, capped."""
from __future__ import annotations

import json

from consoles import frames


def test_watchers_are_grouped_by_person_with_the_owner_and_typists_first():
    connections = [("zed", True), ("alice", False), ("bob", True), ("carol", False), ("bob", True),
                   ("alice", False)]
    message = json.loads(frames.watchers(connections, owner="alice").text)
    assert message == ["status", {"watchers": [
        {"username": "alice", "readonly": False, "connections": 2},
        {"username": "carol", "readonly": False, "connections": 1},
        {"username": "bob", "readonly": True, "connections": 2},
        {"username": "zed", "readonly": True, "connections": 1}], "watchers_total": 4}]


def test_a_big_class_is_cut_to_the_first_names_with_the_total():
    connections = [(f"student{n:03d}", True) for n in range(500)] + [("teacher", False)]
    _, body = json.loads(frames.watchers(connections, owner="teacher").text)
    assert body["watchers_total"] == 501 and len(body["watchers"]) == frames.MAX_WATCHERS
    assert body["watchers"][0]["username"] == "teacher"
    assert body["watchers"][1] == {"username": "student000", "readonly": True, "connections": 1}


def test_nobody_watching():
    assert json.loads(frames.watchers([], owner="alice").text) == ["status", {"watchers": [], "watchers_total": 0}]
