"""At start-up, a server takes back the consoles an earlier server of its node left.

Their programs are children of the node's holder (sandbox/holder/), which
hands over each terminal; the scrollback comes from the console's file
(consoles/scrollback_file.py).  See docs/architecture.md, "Restarts".
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection

from consoles.registry import ENDED, RUNNING, ConsoleRecord, ConsoleRegistry
from consoles.scrollback_file import ScrollbackFile, ScrollbackFiles
from sandbox import Sandbox, SandboxedProcess

ORPHANED_REASON = "The server restarted; this console's program is no longer running."
ENDED_BEFORE_RESTART = "The server restarted after this console's program had ended."

TakeBack = Callable[[ConsoleRecord, SandboxedProcess, ScrollbackFile | None], None]
"""Makes the console of a record live again around its program and scrollback file."""


class ConsoleAdoption:
    """One pass over this node's console records against what the holder keeps."""

    def __init__(self, registry: ConsoleRegistry, sandbox: Sandbox, node_id: str,
                 files: ScrollbackFiles | None) -> None:
        self._registry = registry
        self._sandbox = sandbox
        self._node_id = node_id
        self._files = files

    async def run(self, live: Collection[str], take_back: TakeBack) -> tuple[int, int]:
        """Take back every console whose program the holder keeps, running or ended
        meanwhile (its end is then recorded with its status once read); mark the
        others ended; kill programs of this node that no record wants.  Returns
        (taken back, marked ended)."""
        held = {program.id: program for program in await self._sandbox.held_programs() if program.kind == "pty"}
        adopted = ended = 0
        for record in await self._registry.on_node(self._node_id):
            program = held.pop(record.id, None)
            if record.status == ENDED or record.id in live:
                continue
            if program is None or program.master < 0:
                reason = ORPHANED_REASON if record.status == RUNNING else ENDED_BEFORE_RESTART
                await self._registry.update(record.id, status=ENDED, ended_reason=reason)
                if self._files is not None:
                    self._files.forget(record.id)
                ended += 1
                continue
            identity = await asyncio.to_thread(self._sandbox.identity, record.owner,
                                               str(program.meta.get("account_type", "free")))
            process = self._sandbox.adopt(identity, program)
            take_back(record, process, self._files.existing(record.id) if self._files is not None else None)
            adopted += 1
        for program in held.values():
            if program.meta.get("node") == self._node_id:  # closed or forgotten while no server listened
                self._sandbox.end_held(program)
        return adopted, ended
