"""An upgrade across a change of the holder's protocol ends nobody's work.

The previous release is this tree copied elsewhere with the protocol one
version older.  Its server starts the node's holder (from the copy) and a
console; then the current server starts on the same data directory, finds
the older holder, has it re-execute itself from the current code, and takes
the console back: same holder process, same program, same scrollback.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from sandbox.holder import protocol
from tests.client import Client
from tests.ide.test_restarts import latest, send, start, until_output
from tests.ide.test_sharing import Person
from tests.server import ROOT, UNISOLATED, ServerProcess

PACKAGES = ("consoles", "ide", "sandbox", "supervisor", "tasks", "templates", "static")


@pytest.fixture
def previous_release(tmp_path: Path) -> Path:
    """This tree as an earlier release would be: the holder speaks the protocol before this one."""
    copy = tmp_path / "previous"
    for name in PACKAGES:
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("node_modules", "__pycache__"))
    protocol_file = copy / "sandbox" / "holder" / "protocol.py"
    source = protocol_file.read_text()
    older = re.sub(r"^VERSION = \d+", f"VERSION = {protocol.VERSION - 1}", source, flags=re.M)
    assert older != source
    protocol_file.write_text(older)
    return copy


@pytest.mark.gen_test(timeout=120)
async def test_the_current_server_adopts_what_the_previous_release_left(previous_release: Path,
                                                                       server_data_dir: Path) -> None:
    data_dir = server_data_dir
    old = ServerProcess(data_dir, *UNISOLATED, cwd=previous_release).start()
    try:
        name = old.add_user("upg", account_type="hacker")
        token = old.cli("user", "token", name).stdout.strip()
        who = Person(name, Client(old.url, token=token))
        console = await start(who, "python3")
        await send(who, console["id"], "kept = 'from the previous release'\n")
        holder = old.holder()
        assert str(previous_release) in holder.environ()["PYTHONPATH"]
    finally:
        old.stop(keep_programs=True)

    new = ServerProcess(data_dir, *UNISOLATED).start()
    try:
        who = Person(name, Client(new.url, token=token))
        assert any("upgraded from protocol" in line for line in new.output)
        upgraded = new.holder()
        assert upgraded.pid == holder.pid  # the same process, re-executed: its children stay its own
        assert str(previous_release) not in upgraded.environ()["PYTHONPATH"]
        shown = (await who.api.get(who.base() + f"consoles/{console['id']}/")).json()
        assert shown["status"] == "running"
        assert "kept" in await latest(who, console["id"])
        await send(who, console["id"], "print(kept.upper())\n")
        await until_output(who, console["id"], "FROM THE PREVIOUS RELEASE")
    finally:
        new.stop()
