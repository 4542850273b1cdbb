"""Reading sandboxed PTYs in tests: until a pattern, until exit, with deadlines."""
from __future__ import annotations

import asyncio
import os
import select
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from sandbox import Identity, Sandbox, SandboxedProcess

T = TypeVar("T")
TIMEOUT = 30.0


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def _next_chunk(process: SandboxedProcess, deadline: float, what: str, output: bytes) -> bytes | None:
    """The next output: None when nothing came for a while, b"" once the PTY closed."""
    remaining = deadline - time.monotonic()
    assert remaining > 0, f"{what}; output was {output.decode(errors='replace')!r}"
    ready, _, _ = select.select([process.fd], [], [], min(remaining, 0.5))
    if not ready:
        return None
    try:
        return os.read(process.fd, 65536)
    except BlockingIOError:
        return None
    except OSError:  # EIO: the other side is gone
        return b""


def read_until(process: SandboxedProcess, marker: str, timeout: float = TIMEOUT) -> str:
    """Output until ``marker`` appears (AssertionError with the output if it never does)."""
    output = b""
    deadline = time.monotonic() + timeout
    while marker.encode() not in output:
        chunk = _next_chunk(process, deadline, f"{marker!r} never appeared", output)
        if chunk is None:
            continue
        assert chunk, f"the process ended before {marker!r}; output was {output.decode(errors='replace')!r}"
        output += chunk
    return output.decode(errors="replace")


def read_to_end(process: SandboxedProcess, timeout: float = TIMEOUT) -> str:
    """Everything the process writes until its PTY closes."""
    output = b""
    deadline = time.monotonic() + timeout
    while True:
        chunk = _next_chunk(process, deadline, "the process did not end", output)
        if chunk == b"":
            return output.decode(errors="replace")
        output += chunk or b""


def wait_for(condition: Callable[[], T], what: str, timeout: float = TIMEOUT, step: float = 0.02) -> T:
    """Poll ``condition`` until it returns something true."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(step)


def wait_exit(process: SandboxedProcess, timeout: float = TIMEOUT) -> int:
    """Reap the process (waiting for it to end) and close its PTY."""
    wait_for(lambda: process.poll() is not None, "the process to exit", timeout)
    process.release()
    assert process.exit_status is not None
    return process.exit_status


def run_script(sandbox: Sandbox, identity: Identity, script: str, cwd: str | None = None,
               timeout: float = TIMEOUT) -> tuple[int, str]:
    """Run ``bash -c script`` in the sandbox; (exit status, output)."""
    process = run(sandbox.spawn(identity, ["bash", "-c", script], cwd or identity.visible_home))
    output = read_to_end(process, timeout)
    return wait_exit(process, timeout), output
