"""Where a task's output goes, as its owner sees the path."""
from __future__ import annotations


def task_log_path(task_id: int) -> str:
    """The log of a scheduled task's runs, in the owner's ``/var/log``."""
    return f"/var/log/schedule-log-{task_id}.log"


def always_on_log_path(task_id: int) -> str:
    """The output of an always-on task, in the owner's ``/var/log``."""
    return f"/var/log/alwayson-log-{task_id}.log"
