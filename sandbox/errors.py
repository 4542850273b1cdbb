"""The sandbox's exceptions: one base, so callers can catch everything it raises."""
from __future__ import annotations


class SandboxError(Exception):
    """A sandbox operation failed; the message says what to do about it."""


class SpawnError(SandboxError):
    """The program could not be started; the message is for the user."""


class IsolationUnavailable(SandboxError):
    """``isolation="full"`` was asked for on a host that cannot provide it."""


class NetworkIsolationUnavailable(IsolationUnavailable):
    """Users' programs cannot get their own network namespaces here."""
