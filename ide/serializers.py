"""One serializer per resource, used by the pages and the API alike."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from consoles import STREAM_PATH, ConsoleRecord
from ide.cpu import CpuUsage
from ide.routes import API_PREFIX
from ide.webapps.store import StaticMapping, Webapp
from supervisor import ProgramState, ProgramStatus
from tasks.always_on import AlwaysOnTask
from tasks.logs import always_on_log_path, task_log_path
from tasks.store import ScheduledTask


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


def webapp_object(webapp: Webapp, status: ProgramStatus | None, start_error: str = "") -> dict[str, Any]:
    """A web app as PythonAnywhere's API shows it (the password never comes back), plus its state here
    (``last_error`` with ``start_error``, the exception its error log ended with, when failing)."""
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
        "last_error": ": ".join(part for part in (status.last_error if status is not None else "", start_error)
                                if part),
    }


def editor_webapp(owner: str, webapp: Webapp) -> dict[str, str]:
    """What the editor's Reload button needs of the app a file belongs to."""
    base = f"{API_PREFIX}/user/{owner}/webapps/{webapp.domain_name}/"
    return {"domain": webapp.domain_name, "url": base, "reload_url": base + "reload/",
            "error_log": f"/user/{owner}/files/var/log/{webapp.domain_name}.error.log"}


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


def task_object(task: ScheduledTask, now: float) -> dict[str, Any]:
    """A scheduled task in PythonAnywhere's shape, plus when it runs next and how it last ran."""
    base = f"{API_PREFIX}/user/{task.owner}/schedule/{task.id}/"
    timing = task.fields.timing
    last = task.last_run
    return {
        "id": task.id,
        "url": base,
        "user": task.owner,
        "command": task.fields.command,
        "description": task.fields.description,
        "enabled": task.fields.enabled,
        "interval": timing.interval,
        "hour": timing.hour,
        "minute": timing.minute,
        "printable_time": timing.printable_time,
        "logfile": task_log_path(task.id),
        "expiry": None if task.expiry is None else datetime.fromtimestamp(task.expiry, UTC).date().isoformat(),
        "extend_url": None if task.expiry is None else base + "extend/",
        "can_enable": not task.expired(now),
        "next_run": None if task.next_due is None else iso_time(task.next_due),
        "last_run": None if last is None else {
            "started": iso_time(last.started), "outcome": last.outcome,
            "exit_status": last.exit_status, "duration_seconds": last.duration},
    }


def always_on_object(task: AlwaysOnTask, status: ProgramStatus | None, now: float) -> dict[str, Any]:
    """An always-on task in PythonAnywhere's shape, plus how long it has run and how often it restarted."""
    if not task.enabled:
        state = "stopped"
    elif status is None:
        state = "starting"
    else:
        state = "backing off" if status.state == ProgramState.FAILED else status.state.value
    running = status is not None and status.state == ProgramState.RUNNING and status.started is not None
    return {
        "id": task.id,
        "user": task.owner,
        "command": task.command,
        "description": task.description,
        "enabled": task.enabled,
        "state": state,
        "logfile": always_on_log_path(task.id),
        "url": f"{API_PREFIX}/user/{task.owner}/always_on/{task.id}/",
        "uptime_seconds": round(now - status.started, 1) if running and status and status.started else None,
        "restarts": max(0, status.starts - 1) if status is not None else 0,
        "last_error": status.last_error if status is not None else "",
    }
