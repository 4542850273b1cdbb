"""The supervisor's Redis keys (the service's plan: docs/architecture.md, "Redis keys")."""
from __future__ import annotations

PREFIX = "ide:"


def program_key(name: str) -> str:
    """Hash: owner, node, state, pid, started (the pid's start time, to recognise it after a
    restart, and its uptime), starts, exit_status, last_error, changed."""
    return f"{PREFIX}program:{name}"


def node_programs_key(node: str) -> str:
    """Set of the programs a node supervises."""
    return f"{PREFIX}node:{node}:programs"
