"""This node's consoles: starting them within a user's limit, finding, closing, and cleaning up.

A console lives on the node that spawned it; Redis records which node, so
other nodes and the web layer can list it, and closing, typing into or
reading a console that another node runs is asked of that node.  Policy (the
limit, who may attach) comes from the caller.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, NoReturn

import redis.asyncio as aioredis
from tornado.ioloop import IOLoop, PeriodicCallback

from consoles.adoption import ConsoleAdoption
from consoles.console import Console, ConsoleNotRunning
from consoles.fanout import FlowLimits
from consoles.node_link import NodeLink, NodeUnavailable, RemoteError
from consoles.processes import ProcessInfo, ProcessNotYours, find_descendants, kill_process, list_processes
from consoles.pty_channel import InputBufferFull
from consoles.registry import ENDED, EXITED, RUNNING, ConsoleRecord, ConsoleRegistry, is_console_id, new_console_id
from consoles.screen import ScreenRenderer
from consoles.scrollback import DEFAULT_SCROLLBACK_BYTES
from consoles.scrollback_file import ScrollbackFile, ScrollbackFiles
from consoles.sharing import ShareStore
from consoles.signing import NodeKey
from sandbox import Identity, Sandbox, SandboxedProcess

log = logging.getLogger(__name__)

# How often running consoles are checked for programs that ended while
# something else still holds their terminal (see Console.check_exit).
EXIT_CHECK_MS = 1000
# Consoles closed per IOLoop turn: a burst of closes must not hold up typing
# in other consoles.
CLOSES_PER_TURN = 20

SHUTDOWN_REASON = "The server stopped; this console's program was ended."
ENDED_MESSAGE = "This console's program has ended; start a new console."
# get_latest_output's promise: at least this much of the newest text, when there is that much.
LATEST_OUTPUT_CHARS = 500

# What a node may answer another's request with, rather than a result.
_REFUSALS: dict[str, type[Exception]] = {cls.__name__: cls for cls in (ConsoleNotRunning, InputBufferFull,
                                                                       ProcessNotYours)}


class ConsoleLimitReached(Exception):
    """The user already has as many consoles as their account allows."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        noun = "console" if limit == 1 else "consoles"
        super().__init__(f"You already have {limit} {noun}, the most your account allows; "
                         f"close one to start another.")


class ConsoleManager:
    """Creates and owns the consoles running on this node."""

    def __init__(self, redis: aioredis.Redis, sandbox: Sandbox, node_id: str, node_key: NodeKey,
                 scrollback_bytes: int = DEFAULT_SCROLLBACK_BYTES,
                 limits: FlowLimits = FlowLimits(), node_path: str = "",
                 scrollback_dir: Path | None = None) -> None:
        self.node_id = node_id
        # Each console's output is also kept in a file that outlives this process
        # (None: only in memory; consoles then lose their scrollback with the server).
        self._scrollback_files = (ScrollbackFiles(scrollback_dir, scrollback_bytes)
                                  if scrollback_dir is not None else None)
        # Seals what this node tells the others, and opens what they tell it (consoles/signing.py).
        self.node_key = node_key
        # Where the proxy in front routes to this node ("" on a single node); kept in each record.
        self.node_path = node_path
        self._registry = ConsoleRegistry(redis)
        self._shares = ShareStore(redis)
        self._sandbox = sandbox
        self._scrollback_bytes = scrollback_bytes
        self._limits = limits
        self._live: dict[str, Console] = {}
        # Closes waiting for the next scan of the process table, and the task
        # running the scans: a burst of closes shares one scan, not one each.
        self._close_queue: list[tuple[list[Console], asyncio.Future[None]]] = []
        self._closer: asyncio.Task[None] | None = None
        # One timer for all consoles (not one each: they cost memory and wakeups).
        self._exit_checks: PeriodicCallback | None = None
        self._link = NodeLink(redis, node_id, node_key, self._answer, refusals=tuple(_REFUSALS.values()))
        self._renderer = ScreenRenderer()

    async def listen(self) -> None:
        """Answer other nodes' requests about the consoles of this one, from now on."""
        await self._link.start()

    async def create(self, owner: Identity, argv: Sequence[str], cwd: str, name: str, limit: int,
                     rows: int = 24, cols: int = 80) -> ConsoleRecord:
        """Start ``argv`` for ``owner`` now; the record is returned once it runs.

        Finished consoles that were not closed count towards ``limit``: they
        keep their scrollback in this node's memory.  Raises
        :class:`ConsoleLimitReached` or ``sandbox.SpawnError``.
        """
        if not argv:
            raise ValueError("a console needs a program to run")
        record = ConsoleRecord(id=new_console_id(), owner=owner.username, node=self.node_id,
                               argv=tuple(argv), cwd=cwd, name=name, created=time.time(),
                               status=RUNNING, exit_status=None, ended_reason=None,
                               node_path=self.node_path)
        if not await self._registry.reserve(record, limit):
            raise ConsoleLimitReached(limit)
        try:
            process = await self._sandbox.spawn(owner, argv, cwd, rows=rows, cols=cols, program_id=record.id,
                                                meta={"node": self.node_id})
        except BaseException:
            await self._registry.forget(record.id, record.owner)
            raise
        scrollback_file = (await asyncio.to_thread(self._scrollback_files.new, record.id)
                           if self._scrollback_files is not None else None)
        self._run_console(Console(record.id, owner.username, name, process, rows, cols, self._scrollback_bytes,
                                  self._limits, on_exit=self._exited, scrollback_file=scrollback_file))
        return record

    def _run_console(self, console: Console) -> None:
        self._live[console.id] = console
        console.start()
        if self._exit_checks is None:
            self._exit_checks = PeriodicCallback(self._check_exits, EXIT_CHECK_MS)
            self._exit_checks.start()

    def _check_exits(self) -> None:
        for console in list(self._live.values()):
            if console.running:
                console.check_exit()

    def get_live(self, console_id: str) -> Console | None:
        """The console with this id if it lives on this node (running or finished, not closed)."""
        return self._live.get(console_id)

    def live_for(self, username: str) -> list[Console]:
        return [console for console in self._live.values() if console.owner == username]

    def live_viewed_by(self, username: str) -> list[Console]:
        """The consoles of this node on which ``username`` has a connection open."""
        return [console for console in self._live.values()
                if any(name == username for name, _ in console.viewers())]

    def root_pids(self, username: str) -> list[int]:
        """The pids of a user's running console programs, for the process list."""
        return [console.pid for console in self.live_for(username) if console.running]

    async def record(self, console_id: str) -> ConsoleRecord | None:
        """The registered console with this id; None for an id of the wrong shape, unlooked-up."""
        if not is_console_id(console_id):
            return None
        return await self._registry.get(console_id)

    async def list_for(self, username: str) -> list[ConsoleRecord]:
        """A user's consoles on every node, oldest first."""
        return await self._registry.list_for(username)

    async def records(self, console_ids: Iterable[str]) -> list[ConsoleRecord]:
        """The records of these consoles (those that still exist), oldest first."""
        return await self._registry.get_many(console_ids)

    async def close(self, console_id: str) -> bool:
        """Kill the console's programs and forget it (finished and ended ones too).

        A console of another node is closed by that node; if that node is
        down, so is the program, and the console is only forgotten.  Returns
        False when no such console was registered.
        """
        if not is_console_id(console_id):
            return False
        console = self._live.pop(console_id, None)
        if console is not None:
            await self._close_all([console])
        record = await self._registry.get(console_id)
        if console is None and record is not None and self._elsewhere(record):
            try:
                return bool(await self._ask(record.node, "close", console_id))
            except NodeUnavailable as exc:
                if exc.listening:
                    raise  # alive but slow: its program may still run, so keep the record
        owner = record.owner if record else (console.owner if console else None)
        if owner is None:
            return False
        await self._registry.forget(console_id, owner)
        await self._shares.forget_console(console_id)
        return True

    async def send_input(self, record: ConsoleRecord, text: str) -> None:
        """Type ``text`` into the console, on whichever node runs it."""
        console = self._live.get(record.id)
        if console is not None:
            console.send_input(text)
        elif self._elsewhere(record):
            await self._ask(record.node, "input", record.id, text=text)
        else:
            raise ConsoleNotRunning(ENDED_MESSAGE)

    async def latest_output(self, record: ConsoleRecord) -> str:
        """The console's screen as plain text (see Console.latest_output); empty once it is gone."""
        console = self._live.get(record.id)
        if console is not None:
            return await self._render(console)
        if self._elsewhere(record):
            return str(await self._ask(record.node, "output", record.id))
        return ""

    async def _render(self, console: Console, min_chars: int = LATEST_OUTPUT_CHARS) -> str:
        return await self._renderer.render_tail(console.output_tail(min_chars), console.rows,
                                                console.cols, min_chars)

    async def processes(self, username: str) -> list[tuple[str, ProcessInfo]]:
        """What a user's consoles run, as (node, process), on every node that runs some.

        A node that does not answer is left out: the list is for looking,
        and its processes show again once it answers.
        """
        found = [(self.node_id, info) for info in await self._processes_here(username)]
        for node in await self._other_nodes(username):
            try:
                listed = await self._ask(node, "processes", username=username)
            except NodeUnavailable:
                log.warning("node %s did not list %s's processes", node, username)
                continue
            found += [(node, ProcessInfo(**info)) for info in listed]
        return found

    async def kill_process(self, username: str, pid: int, node: str = "") -> None:
        """Kill ``pid`` on ``node`` (this one by default) if one of the user's consoles runs it."""
        if node in ("", self.node_id):
            await kill_process(pid, self.root_pids(username))
            return
        await self._ask(node, "kill", username=username, pid=pid)

    async def kill_user_processes(self, username: str) -> None:
        """Kill every process of the user, on every node that runs consoles of theirs."""
        nodes = await self._other_nodes(username)
        await self._sandbox.kill_user_processes(username)
        for node in nodes:
            # The request's name on the wire stays "kill_all": nodes of two versions must understand it.
            await self._ask(node, "kill_all", username=username)

    async def account_type_changed(self, username: str, account_type: str) -> None:
        """Give the programs ``username`` runs on this node what their new account type allows."""
        await self._sandbox.change_account_type(username, account_type)

    async def _processes_here(self, username: str) -> list[ProcessInfo]:
        return await list_processes(self.root_pids(username))

    async def _other_nodes(self, username: str) -> list[str]:
        return sorted({record.node for record in await self._registry.list_for(username)
                       if self._elsewhere(record)})

    def _elsewhere(self, record: ConsoleRecord) -> bool:
        """Whether another node runs (or ran and still holds) this console."""
        return record.node != self.node_id and record.status != ENDED

    async def _ask(self, node: str, operation: str, console_id: str = "", **arguments: Any) -> Any:
        """``operation`` done by ``node``; its refusals raised here as the same errors."""
        try:
            return await self._link.ask(node, operation, console_id, **arguments)
        except RemoteError as exc:
            _raise_refusal(exc)

    async def _answer(self, operation: str, console_id: str, arguments: dict[str, Any]) -> Any:
        """Another node's request about a console of this one, or a user's processes here."""
        if operation == "close":
            return await self.close(console_id)
        if operation == "processes":
            return [asdict(info) for info in await self._processes_here(str(arguments["username"]))]
        if operation == "kill":
            await self.kill_process(str(arguments["username"]), int(arguments["pid"]))
            return None
        if operation == "kill_all":
            await self._sandbox.kill_user_processes(str(arguments["username"]))
            return None
        console = self._live.get(console_id)
        if operation == "input":
            if console is None:
                raise ConsoleNotRunning(ENDED_MESSAGE)
            console.send_input(str(arguments["text"]))
            return None
        if operation == "output":
            return await self._render(console) if console is not None else ""
        raise ValueError(f"no such request: {operation!r}")

    async def adopt(self) -> tuple[int, int]:
        """At start-up: take back the consoles an earlier server of this node left running
        (consoles/adoption.py); returns (taken back, marked ended)."""
        adoption = ConsoleAdoption(self._registry, self._sandbox, self.node_id, self._scrollback_files)
        return await adoption.run(set(self._live), self._take_back)

    def _take_back(self, record: ConsoleRecord, process: SandboxedProcess,
                   scrollback_file: ScrollbackFile | None) -> None:
        rows, cols = process.size()
        self._run_console(Console(record.id, record.owner, record.name, process, rows, cols,
                                  self._scrollback_bytes, self._limits, on_exit=self._exited,
                                  scrollback_file=scrollback_file))

    async def end_all_held(self, grace: float = 5.0) -> int:
        """For ``ide serve --stop-all``: end every program the node's holder keeps (SIGTERM,
        SIGKILL after ``grace``) and mark this node's consoles ended; how many still ran."""
        stopped = await self._sandbox.stop_held(grace)
        for record in await self._registry.on_node(self.node_id):
            if record.status != ENDED:
                await self._registry.update(record.id, status=ENDED, ended_reason=SHUTDOWN_REASON)
            if self._scrollback_files is not None:
                self._scrollback_files.forget(record.id)
        return stopped

    async def leave_running(self) -> None:
        """On a server stop that is not the node's: let go of every console, ending none.

        The node's holder keeps the programs, their terminals and their
        scrollback files; the next server of this node takes them back
        (:meth:`adopt`), and viewers reconnect to it.
        """
        await self._link.stop()
        self._renderer.close()
        if self._exit_checks is not None:
            self._exit_checks.stop()
            self._exit_checks = None
        consoles, self._live = list(self._live.values()), {}
        for console in consoles:
            console.leave_running()

    async def shutdown(self, timeout: float = 5.0) -> None:
        """On server stop: kill every console here and mark it ended.

        Waits (up to ``timeout``) until the programs are reaped, so none is
        left behind when the server's process exits.
        """
        await self._link.stop()
        self._renderer.close()
        consoles, self._live = list(self._live.values()), {}
        if self._exit_checks is not None:
            self._exit_checks.stop()
            self._exit_checks = None
        await self._close_all(consoles)
        for console in consoles:
            await self._registry.update(console.id, status=ENDED, ended_reason=SHUTDOWN_REASON)
        try:
            await asyncio.wait_for(asyncio.gather(*(console.wait_reaped() for console in consoles)),
                                   timeout)
        except TimeoutError:
            log.warning("some console programs were not reaped within %s s of the kill", timeout)

    async def _close_all(self, consoles: list[Console]) -> None:
        """Close consoles together with every process their programs started."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._close_queue.append((consoles, done))
        if self._closer is None:
            self._closer = loop.create_task(self._run_closes())
        await done

    async def _run_closes(self) -> None:
        """Scan the process table once per batch of queued closes, then kill."""
        try:
            while self._close_queue:
                await asyncio.sleep(0)  # closes asked for in this IOLoop turn join the batch
                batch, self._close_queue = self._close_queue, []
                consoles = [console for group, _ in batch for console in group]
                try:
                    victims = await find_descendants(c.pid for c in consoles if c.running)
                except Exception:
                    log.exception("listing the processes of closing consoles failed")
                    victims = {}
                closed = 0
                for group, done in batch:
                    for console in group:
                        console.close(victims.get(console.pid, ()))
                    if not done.done():
                        done.set_result(None)
                    closed += len(group)
                    if closed >= CLOSES_PER_TURN:
                        closed = 0
                        await asyncio.sleep(0)
        finally:
            self._closer = None

    def _exited(self, console: Console) -> None:
        IOLoop.current().spawn_callback(self._record_exit, console.id, console.exit_status)

    async def _record_exit(self, console_id: str, exit_status: int | None) -> None:
        await self._registry.update(console_id, status=EXITED,
                                    exit_status="" if exit_status is None else exit_status)


def _raise_refusal(error: RemoteError) -> NoReturn:
    """Raise here what the other node raised there, when it is one a user can act on."""
    refusal = _REFUSALS.get(error.kind)
    if refusal is None:
        raise error
    raise refusal(str(error)) from None
