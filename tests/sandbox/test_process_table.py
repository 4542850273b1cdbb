"""Finding every process below some roots with one pass over /proc."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from sandbox import descendants_by_root, trees_by_root

# A grandchild whose command name has a space and parentheses in it: the
# /proc/<pid>/stat parser must find the parent pid past the last ')'.
_TREE = """
import ctypes, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c",
    "import ctypes, time; ctypes.CDLL(None).prctl(15, b'odd) (name', 0, 0, 0); time.sleep(60)"])
print(child.pid, flush=True)
time.sleep(60)
"""


def _wait_for_name(pid: int, name: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/comm") as handle:
            if handle.read().strip() == name:
                return
        time.sleep(0.02)
    raise AssertionError(f"process {pid} never took the name {name!r}")


def test_children_and_grandchildren_of_each_root_are_found():
    first = subprocess.Popen([sys.executable, "-c", _TREE], stdout=subprocess.PIPE, text=True)
    second = subprocess.Popen(["sleep", "60"])
    grandchild = int(first.stdout.readline())
    try:
        _wait_for_name(grandchild, "odd) (name")
        found = descendants_by_root([first.pid, second.pid, os.getpid()])
        assert [process.pid for process in found[first.pid]] == [grandchild]
        assert found[second.pid] == []
        mine = {process.pid for process in found[os.getpid()]}
        assert {first.pid, second.pid, grandchild} <= mine
        trees = trees_by_root([first.pid, second.pid])
        assert {root: [p.pid for p in tree] for root, tree in trees.items()} == {
            first.pid: [first.pid, grandchild], second.pid: [second.pid]}
    finally:
        os.kill(grandchild, signal.SIGKILL)
        for process in (first, second):
            process.kill()
            process.wait()


def test_a_root_that_does_not_exist_has_nothing_below_it():
    ended = subprocess.Popen(["true"])
    ended.wait()
    assert descendants_by_root([ended.pid]) == {ended.pid: []}
    assert trees_by_root([ended.pid]) == {}
    assert descendants_by_root([]) == {}
