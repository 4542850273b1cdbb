"""``processes/``: everything a user's consoles are running, and killing one."""
from __future__ import annotations

from dataclasses import asdict

from consoles import kill_process, list_processes
from ide.web.base import ApiHandler


class ProcessApiHandler(ApiHandler):
    async def root_pids(self, owner: str) -> list[int]:
        return await self.services.console_service.root_pids(owner)


class ProcessListHandler(ProcessApiHandler):
    async def get(self, owner: str) -> None:
        pids = await self.root_pids(self.check_owner(owner))
        self.write_json([asdict(info) for info in await list_processes(pids)])

    async def delete(self, owner: str) -> None:
        """Kill every process of the user, as the "kill all" button does."""
        await self.services.sandbox.kill_all(self.check_owner(owner))
        self.set_status(204)
        self.finish()


class ProcessHandler(ProcessApiHandler):
    async def delete(self, owner: str, pid: str) -> None:
        await kill_process(int(pid), await self.root_pids(self.check_owner(owner)))
        self.set_status(204)
        self.finish()
