"""Server settings, read from the command line or ``IDE_*`` environment variables."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    """Everything ``ide serve`` needs to know; built once by the CLI."""

    port: int = 8000
    address: str = "127.0.0.1"
    data_dir: Path = Path("data")
    redis_url: str | None = None
    allow_signup: bool = False
    secure_cookies: bool = False
    sandbox: str = "auto"
    # As root: run users' programs without full isolation (as one unprivileged account).
    unsafe_no_isolation: bool = False
    trust_proxy_headers: bool = False
    uid_prefix: str = "ide-"
    cgroup_base: str = "ide"
    node_id: str = field(default="")
    # The path under which the proxy in front of several nodes reaches this one, e.g. /nodes/n1.
    node_path: str = ""
    # Tests move the scheduler's clock through Redis; never set in production.
    adjustable_clock: bool = False

    @property
    def homes_dir(self) -> Path:
        return self.data_dir / "home"

    @property
    def redis_dir(self) -> Path:
        return self.data_dir / "redis"
