"""Which isolation is in use, and a sentence an administrator can act on."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

ISOLATION_CHOICES = ("auto", "full", "rlimits", "off")


@dataclass(frozen=True)
class SandboxStatus:
    """What the sandbox does for each process it starts."""

    isolation: str
    """What was asked for: one of ``ISOLATION_CHOICES``."""
    mode: str
    """What is done: ``full``, ``rlimits`` or ``off``."""
    run_as: str
    """The Unix user processes run as when there is no uid switching."""
    uid_switching: bool = False
    cgroup_version: int | None = None
    cgroup_controllers: tuple[str, ...] = ()
    pid_namespace: bool = False
    mount_namespace: bool = False
    reasons: tuple[str, ...] = ()
    """Why full isolation is not in use (empty when it is)."""
    network: str | None = None
    """How users' programs are kept apart on the network (None: they share the node's)."""

    @property
    def isolated(self) -> bool:
        """True when users are separated from each other and from the server."""
        return self.mode == "full"

    @property
    def rlimits_only(self) -> bool:
        return self.mode == "rlimits"

    @property
    def summary(self) -> str:
        if self.mode == "full":
            controllers = ", ".join(self.cgroup_controllers)
            network = (f", and {self.network}" if self.network
                       else "; they share the node's network")
            return (f"Sandboxing is on: each user runs as their own Unix user, in cgroup "
                    f"v{self.cgroup_version} groups ({controllers}), with private PID and "
                    f"mount namespaces{network}.")
        why = "; ".join(self.reasons) or f"isolation is set to {self.isolation!r}"
        if self.mode == "rlimits":
            return (f"Sandboxing is off: {why}; processes run as {self.run_as} "
                    "with rlimits only.")
        return f"Sandboxing is off: {why}; processes run as {self.run_as} with no limits."


def full_status(isolation: str, run_as: str, cgroup_version: int,
                controllers: Iterable[str], network: str | None = None) -> SandboxStatus:
    return SandboxStatus(isolation=isolation, mode="full", run_as=run_as, uid_switching=True,
                         cgroup_version=cgroup_version, cgroup_controllers=tuple(sorted(controllers)),
                         pid_namespace=True, mount_namespace=True, network=network)


def limited_status(isolation: str, run_as: str, reasons: Iterable[str] = ()) -> SandboxStatus:
    """rlimits only (or nothing, when isolation is ``off``)."""
    mode = "off" if isolation == "off" else "rlimits"
    return SandboxStatus(isolation=isolation, mode=mode, run_as=run_as, reasons=tuple(reasons))
