"""One serializer per resource, used by the pages and the API alike."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from consoles import STREAM_PATH, ConsoleRecord
from ide.cpu import CpuUsage
from ide.webapps.store import StaticMapping, Webapp
from supervisor import ProgramStatus


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


def webapp_object(webapp: Webapp, status: ProgramStatus | None) -> dict[str, Any]:
    """A web app as PythonAnywhere's API shows it (the password never comes back), plus its state here."""
    return {
        "id": webapp.id,
        "user": webapp.user,
        "domain_name": webapp.domain_name,
        "python_version": webapp.python_version,
        "source_directory": webapp.source_directory,
        "virtualenv_path": webapp.virtualenv_path,
        "expiry": None,
        "force_https": webapp.force_https,
        "password_protection_enabled": webapp.password_protection_enabled,
        "password_protection_username": webapp.password_protection_username,
        "password_protection_password": "",
        "enabled": webapp.enabled,
        "state": status.state.value if status is not None else "stopped",
        "last_error": status.last_error if status is not None else "",
    }


def static_mapping_object(owner: str, domain: str, mapping: StaticMapping) -> dict[str, Any]:
    return {"id": mapping.id, "url": mapping.url, "path": mapping.path,
            "resource_url": f"/api/v0/user/{owner}/webapps/{domain}/static_files/{mapping.id}/"}


def website_object(site: Webapp) -> dict[str, Any]:
    """A website as PythonAnywhere's API v1 shows it."""
    return {
        "domain_name": site.domain_name,
        "enabled": site.enabled,
        "webapp": {"command": site.command, "domains": [{"domain_name": site.domain_name, "cname": None}]},
        "logfiles": {kind: f"/var/log/{site.domain_name}.{kind}.log" for kind in ("access", "error", "server")},
    }
