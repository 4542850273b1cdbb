"""One serializer per resource, used by the pages and the API alike."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from consoles import STREAM_PATH, ConsoleRecord
from ide.cpu import CpuUsage


def iso_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def console_object(record: ConsoleRecord, cpu_seconds: float | None = None) -> dict[str, Any]:
    """A console as PythonAnywhere's API shows it, plus its state here."""
    base = f"/user/{record.owner}/consoles/{record.id}/"
    return {
        "id": record.id,
        "user": record.owner,
        "executable": record.argv[0] if record.argv else "",
        "arguments": " ".join(record.argv[1:]),
        "working_directory": record.cwd,
        "name": record.name,
        "console_url": base,
        "console_frame_url": base + "frame/",
        # The SockJS endpoint of the node that runs the console.
        "stream_url": record.node_path + STREAM_PATH,
        "status": record.status,
        "exit_status": record.exit_status,
        "ended_reason": record.ended_reason,
        "created": iso_time(record.created),
        "cpu_seconds": cpu_seconds,
    }


def cpu_object(usage: CpuUsage) -> dict[str, Any]:
    """The ``cpu/`` shape of PythonAnywhere, plus whether the tarpit applies."""
    return {
        "daily_cpu_limit_seconds": usage.limit_seconds,
        "daily_cpu_total_usage_seconds": round(usage.used_seconds, 3),
        "next_reset_time": usage.next_reset.isoformat(timespec="seconds"),
        "tarpitted": usage.tarpitted,
    }


def share_object(username: str, mode: str) -> dict[str, str]:
    """One share of a console: who, and ``ro`` or ``rw``."""
    return {"username": username, "mode": mode}
