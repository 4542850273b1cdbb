"""Everything a user runs starts here: identity, limits and isolation.

This package imports nothing else of the project; callers describe who runs
what, and the sandbox decides how (plain process, or own uid, cgroups and
namespaces when the server runs as root).
"""
from sandbox.identity import Identity
from sandbox.process import SandboxedProcess
from sandbox.spawner import Sandbox, SpawnError

__all__ = ["Identity", "Sandbox", "SandboxedProcess", "SpawnError"]
