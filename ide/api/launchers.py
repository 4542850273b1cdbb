"""``launchers/``: a user's custom console launchers."""
from __future__ import annotations

from typing import Any

from consoles import LauncherInvalid
from ide.web.base import ApiHandler


def launcher_fields(body: dict[str, Any]) -> tuple[str, str, str]:
    """name, command, working_directory from a request body, all strings."""
    values = []
    for field in ("name", "command", "working_directory"):
        value = body.get(field, "")
        if not isinstance(value, str):
            raise LauncherInvalid(f"{field} must be a string.")
        values.append(value)
    return values[0], values[1], values[2]


class LauncherListHandler(ApiHandler):
    async def get(self, owner: str) -> None:
        launchers = await self.services.launchers.list(self.check_owner(owner))
        self.write_json([launcher.to_json() for launcher in launchers])

    async def post(self, owner: str) -> None:
        launcher = await self.services.launchers.create(self.check_owner(owner),
                                                        *launcher_fields(self.json_body()))
        self.write_json(launcher.to_json(), status=201)


class LauncherHandler(ApiHandler):
    async def get(self, owner: str, launcher_id: str) -> None:
        launcher = await self.services.launchers.get(self.check_owner(owner), launcher_id)
        self.write_json(launcher.to_json())

    async def put(self, owner: str, launcher_id: str) -> None:
        launcher = await self.services.launchers.update(self.check_owner(owner), launcher_id,
                                                        *launcher_fields(self.json_body()))
        self.write_json(launcher.to_json())

    async def delete(self, owner: str, launcher_id: str) -> None:
        await self.services.launchers.delete(self.check_owner(owner), launcher_id)
        self.set_status(204)
        self.finish()
