"""The node's holder: the parent of users' programs, which outlives ``ide serve``.

``client`` is what the server uses; ``daemon`` is the holder process itself.
"""
from sandbox.holder.client import HeldProgram, HolderClient, HolderUnavailable

__all__ = ["HeldProgram", "HolderClient", "HolderUnavailable"]
