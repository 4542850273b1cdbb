"""Starting and finding consoles on behalf of users: the rules between the
API/pages and the consoles package (limits, executables, paths, names)."""
from __future__ import annotations

import os
import shlex
import shutil
import stat
from collections.abc import Sequence
from typing import Any

from consoles import ConsoleKind, ConsoleManager, ConsoleRecord, LauncherStore, cpu_seconds_by_root
from ide.accounts import User
from ide.files.errors import FilesError, PathNotFound
from ide.files.store import FileStore
from sandbox import Identity, Sandbox

CONSOLE_LIMITS = {"anon": 1, "free": 2, "hacker": 20, "web_developer": 20}
MAX_ARGUMENTS = 4096


class ConsoleNotFound(Exception):
    def __init__(self) -> None:
        super().__init__("No such console.")


class ConsoleRequestInvalid(Exception):
    """A start request that cannot be run; the message says what to change."""


class ConsoleService:
    def __init__(self, manager: ConsoleManager, launchers: LauncherStore,
                 sandbox: Sandbox, kinds: list[ConsoleKind], files: FileStore) -> None:
        self.manager = manager
        self.launchers = launchers
        self.sandbox = sandbox
        self.kinds = kinds
        self.files = files

    def kind_label(self, argv: list[str]) -> str | None:
        """"Bash" for ``["bash"]``: the label of the kind this argv starts."""
        search_path = self.sandbox.program_search_path()
        program = shutil.which(argv[0], path=search_path)
        for kind in self.kinds:
            if [shutil.which(kind.argv[0], path=search_path) or kind.argv[0], *kind.argv[1:]] == [program, *argv[1:]]:
                return kind.label
        return None

    async def start(self, user: User, request: dict[str, Any]) -> ConsoleRecord:
        """Start a console from an API body: a launcher id, or an executable."""
        identity = self.sandbox.identity(user.name, user.account_type)
        if "launcher" in request:
            launcher = await self.launchers.get(user.name, str(request["launcher"]))
            argv = launcher.argv
            cwd = launcher.working_directory or identity.visible_home
            name = launcher.name
        else:
            argv = self._argv(request)
            cwd = request.get("working_directory") or identity.visible_home
            name = self.kind_label(argv) or f"{os.path.basename(argv[0])} console"
        cwd = await self.working_directory(user, identity, cwd)
        limit = CONSOLE_LIMITS.get(user.account_type, 1)
        return await self.manager.create(identity, argv, cwd, name, limit)

    async def working_directory(self, user: User, identity: Identity, cwd: object) -> str:
        """``cwd`` as a directory in a home the caller may use, resolved; else ConsoleRequestInvalid.

        The caller's own home, and a teacher's students' homes (where the
        sandbox can show them).  Anything else gets one answer whether it
        exists or not, and a symlink may not lead out of its home.  The
        program still enters the directory as its user, so a directory
        swapped in after this check is entered only if the user may.
        """
        if not isinstance(cwd, str) or not cwd.startswith("/"):
            raise ConsoleRequestInvalid("working_directory must be an absolute path.")
        access = await self.files.access(user)
        try:
            access.resolver.parse(cwd)  # string work only: the same answer for every outside path
        except PathNotFound:
            students = " or in a student's home" if len(access.resolver.reachable) > 1 else ""
            raise ConsoleRequestInvalid(f"working_directory must be a directory in your home, "
                                        f"{identity.visible_home}/{students}.") from None
        except FilesError as exc:
            raise ConsoleRequestInvalid(f"working_directory: {exc}") from None
        try:
            located, info = await self.files.status(access, cwd)
        except PathNotFound:
            raise ConsoleRequestInvalid(f"working directory {cwd} does not exist.") from None
        except FilesError as exc:
            raise ConsoleRequestInvalid(f"working directory: {exc}") from None
        if not stat.S_ISDIR(info.st_mode):
            raise ConsoleRequestInvalid(f"working directory {cwd} is not a directory.")
        if located.path.owner != user.name and self.sandbox.isolated:
            raise ConsoleRequestInvalid(
                f"Consoles here see only their owner's home: start yours in {identity.visible_home}/ "
                f"(the files of {located.path.visible_home} are open to you in the Files pages).")
        return located.path.visible

    def _argv(self, request: dict[str, Any]) -> list[str]:
        executable = request.get("executable")
        if not isinstance(executable, str) or not executable.strip():
            raise ConsoleRequestInvalid('Give "executable", e.g. "bash" or "python3".')
        arguments = request.get("arguments", [])
        if isinstance(arguments, str):
            if len(arguments) > MAX_ARGUMENTS:
                raise ConsoleRequestInvalid("arguments are too long.")
            try:
                arguments = shlex.split(arguments)
            except ValueError as exc:
                raise ConsoleRequestInvalid(f"arguments could not be parsed: {exc}.") from None
        if not isinstance(arguments, list) or not all(isinstance(a, str) for a in arguments):
            raise ConsoleRequestInvalid("arguments must be a string or a list of strings.")
        if shutil.which(executable, path=self.sandbox.program_search_path()) is None:
            raise ConsoleRequestInvalid(f"{executable}: no such program here.")
        return [executable, *arguments]

    async def owned_record(self, owner: str, console_id: str) -> ConsoleRecord:
        """The owner's console, or ConsoleNotFound (also for others' consoles)."""
        record = await self.manager.record(console_id)
        if record is None or record.owner != owner:
            raise ConsoleNotFound()
        return record

    async def cpu_seconds(self, record: ConsoleRecord) -> float | None:
        """CPU used by a live console's processes now running; None once ended."""
        return (await self.cpu_seconds_of([record]))[0]

    async def cpu_seconds_of(self, records: Sequence[ConsoleRecord]) -> list[float | None]:
        """:meth:`cpu_seconds` of each record, from one scan of the process table for all of them
        (a scan per console made listing many of them take seconds)."""
        roots = {}
        for record in records:
            console = self.manager.get_live(record.id)
            if console is not None and console.running:
                roots[record.id] = console.pid
        totals = await cpu_seconds_by_root(roots.values()) if roots else {}
        return [totals.get(roots[record.id], 0.0) if record.id in roots else None for record in records]

    def tell_tarpit(self, username: str, tarpitted: bool) -> None:
        """Show the user, in each of their live consoles, that the tarpit began or ended."""
        message = ("You have used today's CPU allowance: your programs now run at low priority "
                   "until the daily reset." if tarpitted else
                   "Your CPU allowance was reset: your programs run at full speed again.")
        for console in self.manager.live_for(username):
            console.notify("tarpit" if tarpitted else "tarpit_ended", message)

