"""Every Redis key and channel of the service, built in one place.

The whole key plan (docs/architecture.md, "Redis keys") lives here rather
than in each store, so that two modules can never disagree about who a key
belongs to.  It sits in ``consoles``, the lowest layer that uses Redis, so
that ``ide`` can import it too.  Every name starts with ``ide:``.
"""
from __future__ import annotations

PREFIX = "ide:"

# Accounts, logins and classes.
USERS = PREFIX + "users"
"""Set of every username."""
COOKIE_SECRET = PREFIX + "secret:cookie"


def user_key(name: str) -> str:
    """Hash: type, created, salt, password, teacher, class_code, default_python, token_key."""
    return f"{PREFIX}user:{name}"


def students_key(teacher: str) -> str:
    """Set of a teacher's accepted students."""
    return f"{PREFIX}teacher:{teacher}:students"


def pending_key(teacher: str) -> str:
    """Set of the users asking to join a teacher's class."""
    return f"{PREFIX}teacher:{teacher}:pending"


def session_key(session_id: str) -> str:
    return f"{PREFIX}session:{session_id}"


def user_sessions_key(username: str) -> str:
    return f"{PREFIX}user:{username}:sessions"


def token_key(digest: str) -> str:
    """An API token, by the SHA-256 digest of the token (never the token itself)."""
    return f"{PREFIX}token:{digest}"


def login_failure_keys(username: str, address: str) -> tuple[str, str, str]:
    """(per address, per account and address, per account) failure counters."""
    return (f"{PREFIX}loginfail:ip:{address}", f"{PREFIX}loginfail:pair:{username}:{address}",
            f"{PREFIX}loginfail:user:{username}")


def cpu_key(name: str) -> str:
    """Hash: usage, period_start, tarpit."""
    return f"{PREFIX}cpu:{name}"


# Files.

def file_share_key(token: str) -> str:
    """Hash: owner, path, creator."""
    return f"{PREFIX}fileshare:{token}"


def user_file_shares_key(owner: str) -> str:
    """Hash: path → token of every link to the owner's files."""
    return f"{PREFIX}user:{owner}:fileshares"


# Consoles.

def console_key(console_id: str) -> str:
    """Hash: owner, node, node_path, argv, cwd, name, created, status, exit_status, ended_reason."""
    return f"{PREFIX}console:{console_id}"


def user_consoles_key(username: str) -> str:
    return f"{PREFIX}user:{username}:consoles"


def console_shares_key(console_id: str) -> str:
    """Hash: username → ``ro``/``rw``, and ``@broadcast`` while the owner broadcasts."""
    return f"{PREFIX}console:{console_id}:shares"


def shared_with_me_key(username: str) -> str:
    """Set of the console ids shared with a user by name."""
    return f"{PREFIX}user:{username}:shared_with_me"


def launchers_key(username: str) -> str:
    return f"{PREFIX}user:{username}:launchers"


# Channels and replies between nodes.

CONTROL_CHANNEL = PREFIX + "control"
"""Access changes, which every node applies to the connections it holds."""
NODE_CHANNEL_PREFIX = PREFIX + "node:"
"""Requests to one node: ``ide:node:<node id>``."""
NODE_REPLY_PREFIX = PREFIX + "node-reply:"
"""One-off lists a node pushes its answer to."""


# Web apps (``ide/webapps/``).
WEBAPPS = PREFIX + "webapps"
"""Set of every web app's domain, for the front's host lookup."""
WEBAPP_NEXT_ID = PREFIX + "webapp:next_id"
WEBAPP_CHANGES = PREFIX + "webapp-changes"
"""Channel: the domain of a web app whose record or static mappings just changed (every node's
front then forgets what it kept of it)."""
STATIC_NEXT_ID = PREFIX + "webapp:static:next_id"


def webapp_key(domain: str) -> str:
    """Hash: id, user, python_version, source_directory, virtualenv_path, enabled, force_https,
    password_protection_* (the password as a salted digest), created."""
    return f"{PREFIX}webapp:{domain}"


def webapp_static_key(domain: str) -> str:
    """Hash: mapping id → JSON {"url", "path"}."""
    return f"{PREFIX}webapp:{domain}:static"


def webapp_pass_key(nonce: str) -> str:
    """A web app owner's pass that was redeemed (``ide/webapps/owner_pass.py``): spent, for
    as long as it could still be valid."""
    return f"{PREFIX}webapp-pass:{nonce}"


def user_webapps_key(username: str) -> str:
    """Set of the user's web app domains."""
    return f"{PREFIX}user:{username}:webapps"


# Scheduled tasks.

TASK_IDS = PREFIX + "task:ids"
"""Counter: the last scheduled task id given out (ids are integers, as PythonAnywhere's)."""
TASKS_DUE = PREFIX + "tasks:due"
"""Sorted set: task id scored by its next due time (epoch seconds); only enabled tasks."""
TASKS_CHANNEL = PREFIX + "tasks"
"""Wakes the schedulers of every node when a task's next due time changed."""


def task_key(task_id: int | str) -> str:
    """Hash: owner, command, description, enabled, interval, hour, minute, created, expiry, last_* ."""
    return f"{PREFIX}task:{task_id}"


def user_tasks_key(username: str) -> str:
    """Set of a user's scheduled task ids."""
    return f"{PREFIX}user:{username}:tasks"
CLOCK_OFFSET = PREFIX + "clock:offset"
"""Seconds added to the schedulers' clock, read only by servers started with ``--adjustable-clock``."""


def task_running_key(task_id: int | str) -> str:
    """String: the node running the task now; a lease the node renews, so a dead node's run ends."""
    return f"{PREFIX}task:{task_id}:running"


# Always-on tasks.

ALWAYS_ON_IDS = PREFIX + "alwayson:ids"
"""Counter: the last always-on task id given out."""
ALWAYS_ON_CHANNEL = PREFIX + "alwayson"
"""Carries an always-on task's id when it changed, so the node that keeps it reconciles it with Redis."""


def always_on_key(task_id: int | str) -> str:
    """Hash: owner, command, description, enabled, node, created, restarts_requested."""
    return f"{PREFIX}alwayson:{task_id}"


def user_always_on_key(username: str) -> str:
    """Set of a user's always-on task ids."""
    return f"{PREFIX}user:{username}:alwayson"


def node_always_on_key(node: str) -> str:
    """Set of the always-on task ids a node keeps running."""
    return f"{PREFIX}node:{node}:alwayson"
