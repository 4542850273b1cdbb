"""An always-on task's log is rotated under a program that keeps writing, and planted links are not followed."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from sandbox import Identity
from tasks.log_rotation import rotate_if_large

WRITER = """
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
n = 0
while True:
    os.write(fd, f"line {n}\\n".encode())
    n += 1
    time.sleep(0.001)
"""


def identity_for(home: Path) -> Identity:
    return Identity(username="alice", account_type="hacker", home=home, uid=os.getuid(), gid=os.getgid())


def test_a_log_over_the_limit_moves_to_dot_1_and_the_writer_goes_on_at_the_start(tmp_path):
    log = tmp_path / "alwayson-log-1.log"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(log)])
    try:
        while not log.exists() or log.stat().st_size < 20_000:
            time.sleep(0.01)  # no IOLoop here: a plain wait for the writer
        assert rotate_if_large(log, identity_for(tmp_path), limit=10_000)
        time.sleep(0.2)
    finally:
        writer.kill()
        writer.wait()
    old = (tmp_path / "alwayson-log-1.log.1").read_text().splitlines()
    new = log.read_text().splitlines()
    assert old[0] == "line 0" and len(old) >= 1000
    assert new and int(new[0].split()[1]) > int(old[-1].split()[1]) - 50  # new lines, not the old ones again
    assert log.stat().st_size < (tmp_path / "alwayson-log-1.log.1").stat().st_size
    assert not rotate_if_large(log, identity_for(tmp_path), limit=10_000_000)


def test_planted_links_are_never_followed(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    log = tmp_path / "alwayson-log-2.log"
    log.write_text("x" * 5000)
    (tmp_path / "alwayson-log-2.log.1").symlink_to(victim)
    # The planted .1 link is removed, never written through.
    assert rotate_if_large(log, identity_for(tmp_path), limit=100)
    assert victim.read_text() == "precious\n"
    assert not (tmp_path / "alwayson-log-2.log.1").is_symlink()

    linked = tmp_path / "alwayson-log-3.log"
    big = tmp_path / "big"
    big.write_text("y" * 5000)
    linked.symlink_to(big)
    assert not rotate_if_large(linked, identity_for(tmp_path), limit=100)
    assert big.read_text() == "y" * 5000
