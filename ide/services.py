"""The domain objects a running server holds, built once and handed to
every handler."""
from __future__ import annotations

import re
import socket
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import redis.asyncio as aioredis

from consoles import ConsoleManager, LauncherStore, NodeKey, discover_kinds
from ide.accounts import AccountStore
from ide.assets import ROOT, AssetManifest
from ide.auth import Authenticator
from ide.class_store import ClassStore
from ide.classes import Classroom
from ide.config import Settings
from ide.console_policy import ConsoleAccessPolicy
from ide.console_service import ConsoleService
from ide.console_sharing import ConsoleSharing
from ide.cpu import CpuAllowance
from ide.credentials import CredentialService
from ide.files.service import FileService
from ide.login_throttle import LoginThrottle
from ide.sessions import SessionStore
from ide.task_runtime import TaskRuntime
from ide.tokens import TokenStore
from ide.webapps.owner_pass import OwnerPasses
from ide.webapps.runtime import GUNICORN_SITE
from ide.webapps.service import WebappService
from ide.webapps.store import WebappStore
from sandbox import DEFAULT_LIMITS, Sandbox
from sandbox.network import EgressPolicy, NetworkSettings
from supervisor import Supervisor
from tasks.always_on import AlwaysOnStore
from tasks.store import TaskStore


@dataclass
class Services:
    settings: Settings
    redis: aioredis.Redis
    cookie_secret: str
    accounts: AccountStore
    tokens: TokenStore
    sessions: SessionStore
    throttle: LoginThrottle
    templates: jinja2.Environment
    assets: AssetManifest
    sandbox: Sandbox
    console_manager: ConsoleManager
    launchers: LauncherStore
    console_service: ConsoleService
    cpu: CpuAllowance
    files: FileService
    supervisor: Supervisor
    webapps: WebappService
    owner_passes: OwnerPasses
    tasks: TaskStore
    always_on: AlwaysOnStore
    programs: TaskRuntime
    sandbox_status: str | None = None
    pythons: tuple[str, ...] = ()
    authenticator: Authenticator = field(init=False)
    console_policy: ConsoleAccessPolicy = field(init=False)
    credentials: CredentialService = field(init=False)
    classes: Classroom = field(init=False)
    console_sharing: ConsoleSharing = field(init=False)

    def __post_init__(self) -> None:
        self.authenticator = Authenticator(self.sessions, self.tokens, self.cookie_secret)
        # Every node, on a change of a user's account type, stops the apps of theirs it runs that
        # are disabled now (the change's own node included: it hears its own message).
        self.console_policy = ConsoleAccessPolicy(self.redis, self.console_manager, self.authenticator,
                                                  on_account_type=self._account_type_changed)
        self.credentials = CredentialService(self.accounts, self.sessions, self.tokens,
                                             announce=self.console_policy.recheck)
        self.console_sharing = ConsoleSharing(self.console_manager, self.accounts, self.console_policy)
        self.classes = Classroom(self.accounts, ClassStore(self.redis), self.files.store.shares,
                                 self.console_policy.recheck)


    async def _account_type_changed(self, username: str, account_type: str) -> None:
        await self.webapps.stop_disabled(username)


def template_environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(ROOT / "templates")),
                              autoescape=True, auto_reload=False)


def network_settings(settings: Settings) -> NetworkSettings | None:
    """Users' own network namespaces, unless the operator let them share the node's;
    ValueError for ports that cannot work."""
    if settings.unsafe_shared_network:
        return None
    policy = EgressPolicy.build(settings.egress_allow_cidrs, allow_list_port=settings.proxy_port,
                                open_port=settings.proxy_open_port)
    return NetworkSettings(pool=settings.sandbox_network, policy=policy)


def build_services(settings: Settings, redis: aioredis.Redis, cookie_secret: str, node_key: NodeKey) -> Services:
    sandbox = Sandbox(settings.homes_dir, isolation=settings.sandbox, cgroup_base=settings.cgroup_base,
                      uid_prefix=settings.uid_prefix, shared_account=settings.unsafe_no_isolation,
                      network=network_settings(settings), library=Path(GUNICORN_SITE),
                      holder_dir=settings.holder_dir)
    status = sandbox.status()
    # A restarted server must recognise its own consoles to take them back:
    # the default name is stable across restarts (not the port, which may be 0).
    node_id = settings.node_id or f"{socket.gethostname()}:{settings.data_dir.resolve()}"
    settings.scrollback_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    manager = ConsoleManager(redis, sandbox, node_id, node_key, node_path=settings.node_path,
                             scrollback_dir=settings.scrollback_dir)
    launchers = LauncherStore(redis)
    kinds = discover_kinds(path=sandbox.program_search_path())
    accounts = AccountStore(redis)
    files = FileService.build(sandbox, accounts, redis)
    console_service = ConsoleService(manager, launchers, sandbox, kinds, files.store)
    supervisor = Supervisor(redis, sandbox, node_id)
    pythons = {f"python{m.group(1)}{m.group(2)}": m.group(0) for m in (
        re.fullmatch(r"python(3)\.(\d+)", Path(k.argv[0]).name) for k in kinds) if m}
    webapps = WebappService(WebappStore(redis), accounts, sandbox, supervisor, files.store, pythons,
                            settings.apps_domain, idle_stop=settings.webapp_idle_stop, node=node_id,
                            named_node=settings.node_id)
    tasks, always_on = TaskStore(redis), AlwaysOnStore(redis)
    return Services(
        settings=settings, redis=redis, cookie_secret=cookie_secret,
        accounts=accounts, tokens=TokenStore(redis), sessions=SessionStore(redis),
        throttle=LoginThrottle(redis), templates=template_environment(), assets=AssetManifest(),
        sandbox=sandbox, console_manager=manager, launchers=launchers,
        console_service=console_service,
        cpu=CpuAllowance(redis, sandbox, DEFAULT_LIMITS, on_change=console_service.tell_tarpit),
        files=files, supervisor=supervisor, webapps=webapps, owner_passes=OwnerPasses(cookie_secret, redis),
        tasks=tasks, always_on=always_on,
        programs=TaskRuntime.build(settings, redis, sandbox, supervisor, accounts, tasks, always_on, node_id),
        sandbox_status=None if status.isolated else status.summary,
        pythons=tuple(k.argv[0] for k in kinds if k.key.startswith("python")))
