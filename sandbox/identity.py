"""Who a process runs for, and where their files live."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Identity:
    """A user as the sandbox sees them.

    ``home`` is the host path of the user's home directory; inside the user's
    processes it may appear elsewhere (``visible_home``) when a mount
    namespace is in use.
    """

    username: str
    account_type: str
    home: Path

    @property
    def visible_home(self) -> str:
        return f"/home/{self.username}"
