"""When a scheduled task runs: daily at HH:MM or hourly at :MM, in UTC."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

INTERVALS = ("daily", "hourly")


class TaskInvalid(ValueError):
    """A task's fields cannot be used; the message says which and why."""


def _whole_number(name: str, value: Any, low: int, high: int) -> int:
    # bool is an int in Python, and "6" arrives from form posts.
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TaskInvalid(f"{name} must be a whole number from {low} to {high}.")
    if not low <= value <= high:
        raise TaskInvalid(f"{name} must be from {low} to {high}, not {value}.")
    return value


@dataclass(frozen=True)
class Timing:
    """``interval`` is "daily" (at ``hour``:``minute``) or "hourly" (at :``minute``; ``hour`` is None)."""

    interval: str
    minute: int
    hour: int | None = None

    @classmethod
    def parse(cls, interval: Any, hour: Any, minute: Any) -> Timing:
        if interval not in INTERVALS:
            raise TaskInvalid('interval must be "daily" or "hourly".')
        checked_minute = _whole_number("minute", minute, 0, 59)
        if interval == "hourly":
            return cls("hourly", checked_minute)
        if hour is None or hour == "":
            raise TaskInvalid("A daily task needs an hour (0 to 23, UTC).")
        return cls("daily", checked_minute, _whole_number("hour", hour, 0, 23))

    @property
    def printable_time(self) -> str:
        """``"06:05"`` daily, ``"*:05"`` hourly, as PythonAnywhere prints them."""
        hour = "*" if self.hour is None else f"{self.hour:02d}"
        return f"{hour}:{self.minute:02d}"

    def next_run(self, after: float) -> float:
        """The first due time strictly later than ``after`` (epoch seconds)."""
        moment = datetime.fromtimestamp(after, UTC).replace(second=0, microsecond=0)
        if self.hour is None:
            due = moment.replace(minute=self.minute)
            step = timedelta(hours=1)
        else:
            due = moment.replace(hour=self.hour, minute=self.minute)
            step = timedelta(days=1)
        while due.timestamp() <= after:
            due += step
        while due.timestamp() - step.total_seconds() > after:
            due -= step
        return due.timestamp()

    def previous_run(self, at_or_before: float) -> float:
        """The last due time at or before ``at_or_before``."""
        step = 3600 if self.hour is None else 86400
        return self.next_run(at_or_before) - step
