"""Server settings, read from the command line or ``IDE_*`` environment variables."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.network import DEFAULT_ALLOW_LIST_PORT, DEFAULT_OPEN_PORT, DEFAULT_POOL


@dataclass(frozen=True)
class Settings:
    """Everything ``ide serve`` needs to know; built once by the CLI."""

    port: int = 8000
    address: str = "127.0.0.1"
    data_dir: Path = Path("data")
    redis_url: str | None = None
    # TLS files for a rediss:// URL: the CA to trust, and the client certificate with its key.
    redis_ca: Path | None = None
    redis_cert: Path | None = None
    redis_key: Path | None = None
    # The secret nodes sign their messages with (required with redis_url; else made in data_dir).
    node_secret_file: Path | None = None
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
    # Web apps live at <user>.<apps_domain> (alice.localhost:8000 by default).
    apps_domain: str = "localhost"
    # The IDE's address as browsers reach it (links from web apps' error pages); "" = the apps domain.
    site_url: str = ""
    # How long the front waits for a web app's answer before a 504.
    webapp_timeout: float = 300.0
    # Free accounts' web apps stop after this long without a request.
    webapp_idle_stop: float = 3600.0
    # Stop every program this node supervises (web apps, always-on tasks) and exit, without listening.
    stop_all: bool = False
    # Users' network namespaces: their pool, what paying users may reach besides the
    # internet, and the egress proxy on the pool's gateway.
    sandbox_network: str = DEFAULT_POOL
    egress_allow_cidrs: tuple[str, ...] = ()
    egress_allow_list: Path | None = None
    # The proxy's resolvers (default the node's) and a hosts file it reads first.
    egress_dns_servers: tuple[str, ...] = ()
    egress_hosts_file: Path | None = None
    proxy_port: int = DEFAULT_ALLOW_LIST_PORT
    proxy_open_port: int = DEFAULT_OPEN_PORT
    # As root with full isolation: let users' programs share the node's network.
    unsafe_shared_network: bool = False
    # Tests move the scheduler's clock through Redis; never set in production.
    adjustable_clock: bool = False

    @property
    def homes_dir(self) -> Path:
        return self.data_dir / "home"

    @property
    def redis_dir(self) -> Path:
        return self.data_dir / "redis"

    @property
    def node_dir(self) -> Path:
        """What belongs to this node alone: its lock, holder and scrollback files.

        The data directory itself, or with ``--node-id`` a directory of that
        node's own, so that several nodes may share one data directory.
        """
        if not self.node_id:
            return self.data_dir
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", self.node_id)[:48]
        if safe != self.node_id:
            safe += "-" + hashlib.sha256(self.node_id.encode()).hexdigest()[:8]
        return self.data_dir / "nodes" / safe

    @property
    def holder_dir(self) -> Path:
        """The node's holder: its socket, lock and log (sandbox/holder/)."""
        return self.node_dir / "holder"

    @property
    def scrollback_dir(self) -> Path:
        """Each console's output, in files that outlive the server's process (root only)."""
        return self.node_dir / "scrollback"
