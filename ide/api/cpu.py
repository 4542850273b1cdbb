"""``cpu/``: today's CPU use against the daily allowance."""
from __future__ import annotations

from ide.serializers import cpu_object
from ide.web.base import ApiHandler


class CpuHandler(ApiHandler):
    async def get(self, owner: str) -> None:
        usage = await self.services.cpu.usage(self.check_owner(owner))
        self.write_json(cpu_object(usage))
