"""``processes/``: everything a user's consoles are running, on every node, and killing them."""
from __future__ import annotations

from dataclasses import asdict

from ide.web.base import ApiHandler


class ProcessListHandler(ApiHandler):
    async def get(self, owner: str) -> None:
        found = await self.services.console_manager.processes(self.check_owner(owner))
        self.write_json([{**asdict(info), "node": node} for node, info in found])

    async def delete(self, owner: str) -> None:
        """Kill every process of the user, as the "kill all" button does."""
        await self.services.console_manager.kill_user_processes(self.check_owner(owner))
        self.set_status(204)
        self.finish()


class ProcessHandler(ApiHandler):
    async def delete(self, owner: str, pid: str) -> None:
        """Kill one process; ``?node=`` names the node that runs it (this one by default)."""
        await self.services.console_manager.kill_process(self.check_owner(owner), int(pid),
                                                  self.get_query_argument("node", ""))
        self.set_status(204)
        self.finish()
