"""Everything a user runs starts here: identity, limits and isolation.

This package imports nothing else of the project; callers describe who runs
what, and the sandbox decides how (plain process, or own uid, cgroups and
namespaces when the server runs as root).
"""
from sandbox.child_setup import LOG_TARGET, WWW_TARGET
from sandbox.errors import IsolationUnavailable, NetworkIsolationUnavailable, SandboxError, SpawnError
from sandbox.identity import Identity
from sandbox.limits import DEFAULT_LIMITS, AccountLimits
from sandbox.process import SandboxedProcess
from sandbox.process_table import descendants_by_root, trees_by_root
from sandbox.spawner import Sandbox
from sandbox.status import SandboxStatus
from sandbox.unix_users import SHARED_ACCOUNT

__all__ = ["DEFAULT_LIMITS", "LOG_TARGET", "SHARED_ACCOUNT", "WWW_TARGET", "AccountLimits", "Identity",
           "IsolationUnavailable", "NetworkIsolationUnavailable", "Sandbox", "SandboxError", "SandboxStatus",
           "SandboxedProcess", "SpawnError", "descendants_by_root", "trees_by_root"]
