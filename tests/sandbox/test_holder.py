"""The node's holder: who may talk to it, what its children inherit, how it stops."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess

import psutil
import pytest

from sandbox import Identity, Sandbox
from sandbox.holder import protocol
from tests.sandbox.ptys import read_to_end, run, run_script, wait_exit, wait_for
from tests.server import reachable_dir

_HELLO_AS_NOBODY = """
import socket, sys
sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
try:
    sock.connect(sys.argv[1])
except OSError as exc:
    print("refused:", exc.strerror)
    sys.exit(0)
try:
    sock.send(b'{"op": "hello", "request": 1}')
    print("answer:", sock.recv(4096))
except OSError as exc:
    print("closed:", exc.strerror)
"""


def _as_nobody(path: str) -> str:
    return subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                           "/usr/bin/python3", "-c", _HELLO_AS_NOBODY, path],
                          capture_output=True, text=True, timeout=30, check=True, cwd="/").stdout


def test_only_the_servers_account_may_talk_to_the_holder() -> None:
    data = reachable_dir("ide-holder-")  # where another account could reach the socket if allowed
    plain_sandbox = Sandbox(data / "home", isolation="off")
    identity = plain_sandbox.identity("alice", "free")
    assert run_script(plain_sandbox, identity, "true")[0] == 0  # the holder runs
    directory = plain_sandbox.holder.directory
    assert directory.stat().st_mode & 0o777 == 0o700
    path = str(directory / "holder.sock")
    assert _as_nobody(path).startswith("refused: Permission denied")
    # Even where the directory is opened to everyone, another uid gets no answer.
    directory.chmod(0o755)
    os.chmod(path, 0o777)
    try:
        assert _as_nobody(path).strip() in ("answer: b''", "closed: Broken pipe", "closed: Connection reset by peer")
    finally:
        directory.chmod(0o700)
        run(plain_sandbox.close())
        shutil.rmtree(data, ignore_errors=True)


def test_programs_inherit_no_descriptor_and_no_ignored_signal(plain_sandbox: Sandbox) -> None:
    identity = plain_sandbox.identity("alice", "free")
    status, output = run_script(plain_sandbox, identity,
                                "ls /proc/$$/fd; grep -E '^Sig(Ign|Blk)' /proc/$$/status")
    assert status == 0
    lines = output.split()
    assert lines[:lines.index("SigBlk:")] == ["0", "1", "2"]
    assert output.split("SigIgn:")[1].split()[0] == "0000000000000000"
    assert output.split("SigBlk:")[1].split()[0] == "0000000000000000"


def test_a_refused_start_says_why_and_leaves_nothing_held(plain_sandbox: Sandbox) -> None:
    identity = plain_sandbox.identity("alice", "free")
    with pytest.raises(Exception, match="no_such_program: command not found"):
        run(plain_sandbox.spawn(identity, ["no_such_program"], identity.visible_home))
    assert run(plain_sandbox.held_programs()) == []


def test_the_holder_outlives_a_server_that_lets_go_and_the_next_one_gets_the_terminal(tmp_path) -> None:
    first = Sandbox(tmp_path / "home", isolation="off")
    identity = first.identity("alice", "free")
    process = run(first.spawn(identity, ["cat"], identity.visible_home, program_id="cat-1"))
    holder_pid = first.holder.holder_pid
    process.detach()
    run(first.close())  # it keeps a program: it stays
    assert psutil.pid_exists(holder_pid)

    second = Sandbox(tmp_path / "home", isolation="off")
    (held,) = run(second.held_programs())
    assert (held.id, held.pid, held.exit_status) == ("cat-1", process.pid, None)
    again = second.adopt(identity, held)
    os.write(again.fd, b"through the same terminal\n")
    os.write(again.fd, b"\x04")
    assert "through the same terminal" in read_to_end(again)
    assert wait_exit(again) == 0
    run(second.close())
    wait_for(lambda: not psutil.pid_exists(holder_pid) or psutil.Process(holder_pid).status() == "zombie",
             "the emptied holder to quit")


def test_stop_all_ends_every_program_and_the_holder_quits(tmp_path) -> None:
    sandbox = Sandbox(tmp_path / "home", isolation="off")
    identity: Identity = sandbox.identity("alice", "free")
    stubborn = run(sandbox.spawn(identity, ["bash", "-c", "trap '' TERM; echo up; sleep 600"],
                                 identity.visible_home))
    wait_for(lambda: os.read(stubborn.fd, 100) if _readable(stubborn.fd) else b"", "the program to start")
    holder_pid = sandbox.holder.holder_pid
    assert run(sandbox.stop_held(grace=0.5)) == 1
    assert not psutil.pid_exists(stubborn.pid) or psutil.Process(stubborn.pid).status() == "zombie"
    run(sandbox.close())
    wait_for(lambda: not psutil.pid_exists(holder_pid) or psutil.Process(holder_pid).status() == "zombie",
             "the holder to quit")


def _readable(fd: int) -> bool:
    import select
    return bool(select.select([fd], [], [], 0.1)[0])


def test_messages_that_are_not_the_protocol_are_refused() -> None:
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with left, right:
        left.send(b"[1, 2]")
        with pytest.raises(protocol.ProtocolError):
            protocol.receive(right)
        left.send(b"\xff not json")
        with pytest.raises(protocol.ProtocolError):
            protocol.receive(right)
        protocol.send(left, {"op": "hello"})
        assert protocol.receive(right) == ({"op": "hello"}, [])


def test_a_malformed_request_gets_an_error_and_the_holder_goes_on(plain_sandbox: Sandbox) -> None:
    identity = plain_sandbox.identity("alice", "free")
    assert run_script(plain_sandbox, identity, "true")[0] == 0
    (answer, _), = plain_sandbox.holder.ask({"op": "spawn", "id": "x"})  # no argv, no kind
    assert "could not do that" in answer["error"]
    assert run_script(plain_sandbox, identity, "echo still here")[1].strip() == "still here"
