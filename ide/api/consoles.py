"""``consoles/``: list, start, inspect, close and drive consoles."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tornado.web import HTTPError

from consoles import ConsoleRecord
from ide.serializers import console_object
from ide.web.base import ApiHandler


class ConsoleApiHandler(ApiHandler):
    async def serialize(self, records: Iterable[ConsoleRecord]) -> list[dict[str, Any]]:
        listed = list(records)
        cpu = await self.services.console_service.cpu_seconds_of(listed)
        return [console_object(record, seconds) for record, seconds in zip(listed, cpu, strict=True)]


class ConsoleListHandler(ConsoleApiHandler):
    async def get(self, owner: str) -> None:
        records = await self.services.console_manager.list_for(self.check_owner(owner))
        self.write_json(await self.serialize(records))

    async def post(self, owner: str) -> None:
        self.check_owner(owner)
        assert self.user is not None
        record = await self.services.console_service.start(self.user, self.json_body())
        self.write_json(console_object(record, 0.0), status=201)


class SharedWithYouHandler(ConsoleApiHandler):
    async def get(self, owner: str) -> None:
        records = await self.services.console_policy.shared_with(self.check_owner(owner))
        self.write_json(await self.serialize(records))


class ConsoleHandler(ConsoleApiHandler):
    async def get(self, owner: str, console_id: str) -> None:
        record = await self.services.console_service.owned_record(self.check_owner(owner), console_id)
        self.write_json(console_object(record, await self.services.console_service.cpu_seconds(record)))

    async def delete(self, owner: str, console_id: str) -> None:
        record = await self.services.console_service.owned_record(self.check_owner(owner), console_id)
        await self.services.console_manager.close(record.id)
        self.set_status(204)
        self.finish()


class SendInputHandler(ConsoleApiHandler):
    async def post(self, owner: str, console_id: str) -> None:
        record = await self.services.console_service.owned_record(self.check_owner(owner), console_id)
        text = self.json_body().get("input")
        if not isinstance(text, str):
            raise HTTPError(400, 'Give the text to type as {"input": "..."}.')
        await self.services.console_manager.send_input(record, text)
        self.write_json({"status": "OK"})


class LatestOutputHandler(ConsoleApiHandler):
    async def get(self, owner: str, console_id: str) -> None:
        record = await self.services.console_service.owned_record(self.check_owner(owner), console_id)
        self.write_json({"output": await self.services.console_manager.latest_output(record)})
