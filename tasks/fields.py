"""What a user may say about a scheduled task, checked once for the API and the page."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tasks.timing import TaskInvalid, Timing

MAX_COMMAND = 4000
MAX_DESCRIPTION = 200


def flag_field(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "on", "off", "1", "0"):
        return value.lower() in ("true", "on", "1")
    raise TaskInvalid(f"{name} must be true or false.")


def command_field(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise TaskInvalid("command must be a non-empty string, e.g. \"python3 ~/backup.py\".")
    if "\0" in value:
        raise TaskInvalid("command must not contain a NUL character.")
    if len(value) > MAX_COMMAND:
        raise TaskInvalid(f"command must be at most {MAX_COMMAND} characters.")
    return value.strip()


def description_field(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TaskInvalid("description must be a string.")
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise TaskInvalid("description must be one line without control characters.")
    if len(value) > MAX_DESCRIPTION:
        raise TaskInvalid(f"description must be at most {MAX_DESCRIPTION} characters.")
    return value.strip()


@dataclass(frozen=True)
class TaskFields:
    """A task's changeable fields: the command, its description, whether it runs, and when."""

    command: str
    description: str
    enabled: bool
    timing: Timing

    @classmethod
    def for_new_task(cls, body: dict[str, Any]) -> TaskFields:
        """From a POST: command, minute and interval (hour for daily) are required."""
        for required in ("command", "minute"):
            if required not in body:
                raise TaskInvalid(f"{required} is required.")
        interval = body.get("interval", "daily" if body.get("hour") not in (None, "") else "hourly")
        return cls(command=command_field(body["command"]), description=description_field(body.get("description")),
                   enabled=flag_field("enabled", body.get("enabled", True)),
                   timing=Timing.parse(interval, body.get("hour"), body["minute"]))

    def changed_by(self, body: dict[str, Any]) -> TaskFields:
        """These fields with a PATCH applied; unknown names are refused so typos do not pass silently."""
        unknown = sorted(set(body) - {"command", "description", "enabled", "interval", "hour", "minute"})
        if unknown:
            raise TaskInvalid(f"unknown field{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}.")
        interval = body.get("interval", self.timing.interval)
        hour = body.get("hour", self.timing.hour)
        return TaskFields(
            command=command_field(body["command"]) if "command" in body else self.command,
            description=description_field(body["description"]) if "description" in body else self.description,
            enabled=flag_field("enabled", body["enabled"]) if "enabled" in body else self.enabled,
            timing=Timing.parse(interval, hour, body.get("minute", self.timing.minute)))
