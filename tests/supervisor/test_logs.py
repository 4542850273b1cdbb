"""Log rotation at start: generations, compression, and links planted by the user."""
from __future__ import annotations

import gzip
import os
from pathlib import Path

from supervisor.logs import rotate


def test_generations_shift_and_the_second_is_compressed(tmp_path: Path) -> None:
    log = tmp_path / "site.error.log"
    for text in ("first\n", "second\n", "third\n"):
        log.write_text(text * 10)
        assert rotate(log, None, rotate_at=10)
    assert (tmp_path / "site.error.log.1").read_text() == "third\n" * 10
    assert gzip.decompress((tmp_path / "site.error.log.2.gz").read_bytes()) == b"second\n" * 10
    assert gzip.decompress((tmp_path / "site.error.log.3.gz").read_bytes()) == b"first\n" * 10
    assert not log.exists()
    log.write_text("small")
    assert not rotate(log, None, rotate_at=10)


def test_links_in_the_users_directory_are_never_followed(tmp_path: Path) -> None:
    victim = tmp_path / "root-file"
    victim.write_text("precious\n")
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "site.access.log"
    os.symlink(victim, log)
    assert not rotate(log, None, rotate_at=1)  # a link is not a log
    os.unlink(log)
    log.write_text("x" * 100)
    os.symlink(victim, logs / "site.access.log.1")  # would be compressed, then deleted, if followed
    os.symlink(victim, logs / ".site.access.log.2.gz.partial")
    assert rotate(log, None, rotate_at=1)
    assert victim.read_text() == "precious\n"
    assert (logs / "site.access.log.1").read_text() == "x" * 100
    assert not (logs / "site.access.log.2.gz").exists()
