"""Squid's configuration for the egress proxy, and the files it reads, all inside one run directory.

The rules, in the order Squid checks them (first match wins):

1. a client address holding more than ``MAX_CONNECTIONS_PER_CLIENT``
   connections is refused, and so is the cache manager (it would show every
   user's traffic);
2. anything but HTTP, HTTPS and CONNECT is refused (no FTP, gopher, ...);
3. on the allow-list port, a host name not on the list is refused. This rule
   only compares names (``dstdomain -n``), so a refused name is never looked up;
4. CONNECT is admitted to port 443 only on the allow-list port (any port of
   an address inside an admitted CIDR: an operator's mirror may listen
   anywhere), and to any port but 25 (SMTP, the spam vector) on the open
   port; plain HTTP goes to ports 80, 443 and 1025-65535, as in Squid's stock
   rules against sending HTTP to mail or shell services;
5. destinations resolving to one of the node's own addresses are refused;
6. destinations resolving into internal ranges (``destinations.REFUSED_NETWORKS``)
   are refused unless an admitted CIDR contains them. ``dst`` matches if *any*
   address of the name is inside, and Squid connects using the same cached
   lookup (kept at least ``negative_dns_ttl``), so DNS rebinding is refused;
7. everything else is allowed on its port.

Nothing is cached, no ``Via`` or ``X-Forwarded-For`` header tells the
destination about the node or the user's namespace address, and Squid's
version is left out of headers and error pages.
"""
from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sandbox.network.allow_list import AllowList
from sandbox.network.destinations import REFUSED_NETWORKS, Network
from sandbox.network.error_pages import write_error_pages

MAX_CONNECTIONS_PER_CLIENT = 256
"""Connections one client address (one user's namespace) may hold open through the proxy at once,
so that one program cannot use up Squid's file descriptors for everyone."""

STOCK_ERROR_TEMPLATES = Path("/usr/share/squid/errors/templates")
"""Squid's English error pages; copied next to ours since ``error_directory`` replaces them all."""


@dataclass(frozen=True)
class SquidSettings:
    """Everything the configuration depends on, already validated."""

    listen_address: str
    allow_list_port: int
    open_port: int
    allow_list: AllowList
    admitted: tuple[Network, ...]
    node_addresses: tuple[Network, ...]
    hosts_file: Path | None
    dns_servers: tuple[str, ...]
    effective_user: str | None
    """The account Squid switches to after binding its ports (None: stay who we are)."""


@dataclass(frozen=True)
class SquidFiles:
    """Where one instance keeps its files. ``state`` is the only directory Squid may write."""

    run_dir: Path

    @property
    def config(self) -> Path:
        return self.run_dir / "squid.conf"

    @property
    def allow_list(self) -> Path:
        return self.run_dir / "allow_list.domains"

    @property
    def hosts(self) -> Path:
        return self.run_dir / "hosts"

    @property
    def errors(self) -> Path:
        return self.run_dir / "errors"

    @property
    def state(self) -> Path:
        return self.run_dir / "state"

    @property
    def cache_log(self) -> Path:
        return self.state / "cache.log"

    @property
    def access_log(self) -> Path:
        return self.state / "access.log"

    @property
    def pid_file(self) -> Path:
        return self.state / "squid.pid"


def _listen(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _networks(networks: Sequence[Network]) -> str:
    return " ".join(str(network) for network in networks)


def render(settings: SquidSettings, files: SquidFiles) -> str:
    """The text of ``squid.conf``."""
    admitted = " !admitted" if settings.admitted else ""
    tunnel_admitted = " !tunnel_admitted" if settings.admitted else ""
    lines = [
        "# Written by sandbox/network/squid_config.py at each start of the proxy; edits are lost.",
        "visible_hostname egress-proxy",
        *([f"cache_effective_user {settings.effective_user}"] if settings.effective_user else []),
        f"pid_filename {files.pid_file}",
        f"cache_log {files.cache_log}",
        f"access_log stdio:{files.access_log} squid",
        "cache_store_log none",
        "logfile_rotate 0",
        f"coredump_dir {files.state}",
        "netdb_filename none",
        f"error_directory {files.errors}",
        "pinger_enable off",
        "httpd_suppress_version_string on",
        "",
        f"http_port {_listen(settings.listen_address, settings.allow_list_port)} name=allow_list",
        f"http_port {_listen(settings.listen_address, settings.open_port)} name=open",
        "",
        "# A relay, not a cache: nothing is stored, and Squid reads at most 16 KB",
        "# of a response ahead of the client, so a slow reader costs no memory.",
        "cache deny all",
        "cache_mem 0 MB",
        "read_ahead_gap 16 KB",
        "via off",
        "forwarded_for delete",
        "shutdown_lifetime 1 seconds",
        "request_start_timeout 30 seconds",
        "request_timeout 60 seconds",
        "",
        f"hosts_file {files.hosts if settings.hosts_file else '/etc/hosts'}",
        *([f"dns_nameservers {' '.join(settings.dns_servers)}"] if settings.dns_servers else []),
        "negative_dns_ttl 1 minute",
        "",
        f"acl crowded maxconn {MAX_CONNECTIONS_PER_CLIENT}",
        "acl CONNECT method CONNECT",
        "acl port_allow_list myportname allow_list",
        "acl port_open myportname open",
        "acl web_proto proto HTTP HTTPS",
        f'acl listed dstdomain -n "{files.allow_list}"',
        "acl tls_port port 443",
        "acl smtp_port port 25",
        "acl http_ports port 80 443 1025-65535",
        f"acl node_address dst {_networks(settings.node_addresses)}",
        f"acl internal_range dst {_networks(REFUSED_NETWORKS)}",
        *([f"acl admitted dst {_networks(settings.admitted)}",
           f"acl tunnel_admitted dst {_networks(settings.admitted)}"] if settings.admitted else []),
        "",
        "deny_info ERR_TOO_MANY_CONNECTIONS crowded",
        "deny_info ERR_PROTOCOL_REFUSED web_proto",
        "deny_info ERR_NOT_ON_ALLOW_LIST listed",
        "deny_info ERR_PORT_REFUSED tls_port",
        *(["deny_info ERR_PORT_REFUSED tunnel_admitted"] if settings.admitted else []),
        "deny_info ERR_PORT_REFUSED smtp_port",
        "deny_info ERR_PORT_REFUSED http_ports",
        "deny_info ERR_DESTINATION_REFUSED node_address",
        "deny_info ERR_DESTINATION_REFUSED internal_range",
        *(["deny_info ERR_DESTINATION_REFUSED admitted"] if settings.admitted else []),
        "",
        "http_access deny crowded",
        "http_access deny manager",
        "http_access deny !CONNECT !web_proto",
        "http_access deny port_allow_list !listed",
        f"http_access deny CONNECT port_allow_list !tls_port{tunnel_admitted}",
        "http_access deny CONNECT smtp_port",
        "http_access deny !CONNECT !http_ports",
        "http_access deny node_address",
        f"http_access deny internal_range{admitted}",
        "http_access allow port_allow_list",
        "http_access allow port_open",
        "http_access deny all",
    ]
    return "\n".join(lines) + "\n"


def write_files(settings: SquidSettings, files: SquidFiles, uid: int | None, gid: int | None) -> None:
    """Write the configuration, the allow-list and the error pages; make ``state`` Squid's.

    Everything but ``state`` stays owned by the server: Squid, once it has
    switched to its own account, must not be able to rewrite the configuration
    the next (root) start would read.
    """
    files.run_dir.mkdir(parents=True, exist_ok=True)
    files.state.mkdir(exist_ok=True)
    files.state.chmod(0o750)
    if uid is not None and gid is not None:
        for path in (files.state, *files.state.iterdir()):
            shutil.chown(path, uid, gid)
    if files.errors.exists():
        shutil.rmtree(files.errors)
    shutil.copytree(STOCK_ERROR_TEMPLATES, files.errors)
    write_error_pages(files.errors, MAX_CONNECTIONS_PER_CLIENT)
    files.allow_list.write_text("".join(f".{domain}\n" for domain in settings.allow_list.without_covered()))
    if settings.hosts_file is not None:
        # A copy in the run directory: Squid reads it as its own account, which may not be
        # able to reach the operator's file (Squid would then ignore it and ask DNS).
        shutil.copyfile(settings.hosts_file, files.hosts)
        files.hosts.chmod(0o644)
    files.config.write_text(render(settings, files))
