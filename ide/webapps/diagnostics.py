"""What went wrong with an app, for its owner: the traceback of an incident, why it does not
start, what is wrong with its virtualenv.  Every file read here is the owner's, read as
root without following links (``incidents.py``, ``virtualenvs.py``)."""
from __future__ import annotations

import asyncio

from ide.webapps.incidents import last_exception, read_traceback
from ide.webapps.runtime import WebappRuntime, program_name
from ide.webapps.store import Webapp
from ide.webapps.virtualenvs import virtualenv_problem
from sandbox import Identity, Sandbox
from supervisor import ProgramState, Supervisor


class AppDiagnostics:
    def __init__(self, sandbox: Sandbox, supervisor: Supervisor, runtime: WebappRuntime) -> None:
        self.sandbox = sandbox
        self.supervisor = supervisor
        self.runtime = runtime

    async def _identity(self, username: str, account_type: str) -> Identity:
        return await asyncio.to_thread(self.sandbox.identity, username, account_type)

    async def traceback(self, webapp: Webapp, account_type: str, incident: str) -> str | None:
        """The traceback the app logged for ``incident`` (``incidents.py``), for its owner's eyes."""
        identity = await self._identity(webapp.user, account_type)
        log = self.runtime.host_log(identity, webapp, "error")
        uid = identity.owner[0] if identity.owner is not None else None
        return await asyncio.to_thread(read_traceback, log, uid, incident)

    async def virtualenv_problem(self, webapp: Webapp, account_type: str) -> str:
        """Why the app's virtualenv cannot run it (missing, another Python); "" when it can."""
        if not webapp.virtualenv_path or webapp.command:
            return ""
        identity = await self._identity(webapp.user, account_type)
        host = self.sandbox.host_path(identity, webapp.virtualenv_path)
        uid = identity.owner[0] if identity.owner is not None else None
        return await asyncio.to_thread(virtualenv_problem, webapp.virtualenv_path, host, webapp.python_version, uid)

    async def start_error(self, webapp: Webapp, account_type: str) -> str:
        """Why a failing app did not start: the last exception in its error log ("" otherwise)."""
        name = program_name(webapp)
        if not self.supervisor.known(name) or self.supervisor.status(name).state not in (
                ProgramState.FAILED, ProgramState.BACKING_OFF):
            return ""
        identity = await self._identity(webapp.user, account_type)
        log = self.runtime.host_log(identity, webapp, "error")
        uid = identity.owner[0] if identity.owner is not None else None
        return await asyncio.to_thread(last_exception, log, uid) or ""
