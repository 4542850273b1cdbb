"""``ide``: run the server and manage accounts from the shell.

Every flag of ``ide serve`` can also come from an ``IDE_*`` environment
variable (``--data-dir`` ← ``IDE_DATA_DIR``); the flag wins.
"""
from __future__ import annotations

import argparse
import asyncio
import functools
import getpass
import logging
import os
import re
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from consoles.sharing import announce
from ide.account_types import AccountTypes
from ide.accounts import ACCOUNT_TYPES, AccountError, AccountStore
from ide.class_store import ClassStore
from ide.classes import Classroom
from ide.config import Settings
from ide.credentials import CredentialService
from ide.files.shares import FileShares
from ide.redis_client import RedisUnavailable
from ide.server import StartupError, Storage, check_data_dir, load_node_key, serve
from ide.sessions import SessionStore
from ide.tokens import TokenStore
from ide.webapps.store import WebappStore
from sandbox.network import DEFAULT_ALLOW_LIST_PORT, DEFAULT_OPEN_PORT, DEFAULT_POOL
from sandbox.network.addresses import parse_pool
from sandbox.network.policy import parse_cidr
from tasks.always_on import AlwaysOnStore
from tasks.store import TaskStore

CLI_SENDER = f"cli:{os.getpid()}"

_NODE_PATH = re.compile(r"(/[A-Za-z0-9._~-]+)+")


def _env(name: str, default: Any = None) -> Any:
    return os.environ.get("IDE_" + name, default)


def _site_url(value: str) -> str:
    if value and not re.fullmatch(r"https?://[^/?#\s]+", value.rstrip("/")):
        raise argparse.ArgumentTypeError(f"{value!r} is not a site address such as https://ide.example.com")
    return value.rstrip("/")


def _apps_domain(value: str) -> str:
    domain = value.strip().lower().strip(".")
    if not re.fullmatch(r"[a-z0-9]([a-z0-9.-]{0,250}[a-z0-9])?", domain) or ".." in domain:
        raise argparse.ArgumentTypeError(f"{value!r} is not a domain name")
    return domain


def _path_env(name: str) -> Path | None:
    value = _env(name)
    return Path(value) if value else None


def _storage_settings(args: argparse.Namespace, **more: Any) -> Settings:
    return Settings(data_dir=args.data_dir, redis_url=args.redis_url, redis_ca=args.redis_ca,
                    redis_cert=args.redis_cert, redis_key=args.redis_key,
                    node_secret_file=args.node_secret_file, **more)


def _node_path(value: str) -> str:
    """"" or a path such as ``/nodes/n1``, without a trailing slash."""
    path = value.rstrip("/")
    if path and not _NODE_PATH.fullmatch(path):
        raise argparse.ArgumentTypeError(f"{value!r} is not a path like /nodes/n1 (letters, digits, "
                                         f"'.', '_', '~', '-' between slashes)")
    return path


def _argument(parse: Callable[[str], str]) -> Callable[[str], str]:
    """An argparse type from a parser that raises ValueError with a message."""
    def parsed(value: str) -> str:
        try:
            return parse(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return parsed


def _pool(value: str) -> str:
    return str(parse_pool(value))


def _env_flag(name: str) -> bool:
    return _env(name, "").lower() in ("1", "true", "yes", "on")


def _add_storage_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, default=Path(_env("DATA_DIR", "data")),
                        help="where users' files and the embedded Redis live (IDE_DATA_DIR; default ./data)")
    parser.add_argument("--redis-url", default=_env("REDIS_URL"),
                        help="use this Redis instead of the embedded one: rediss://[user]:password@host:port/db "
                             "(TLS), redis://... or unix://[[user]:password@]/path; prefer IDE_REDIS_URL, which "
                             "other accounts cannot read in the process list")
    parser.add_argument("--redis-ca", type=Path, default=_path_env("REDIS_CA"),
                        help="with rediss://, the CA certificate(s) to trust Redis's certificate by, PEM "
                             "(IDE_REDIS_CA; default the system's)")
    parser.add_argument("--redis-cert", type=Path, default=_path_env("REDIS_CERT"),
                        help="with rediss://, the client certificate to show Redis, PEM (IDE_REDIS_CERT)")
    parser.add_argument("--redis-key", type=Path, default=_path_env("REDIS_KEY"),
                        help="the private key of --redis-cert, PEM (IDE_REDIS_KEY)")
    parser.add_argument("--node-secret-file", type=Path, default=_path_env("NODE_SECRET_FILE"),
                        help="the secret, shared by every node and ide command of a deployment, that signs "
                             "their messages over Redis; required with --redis-url (IDE_NODE_SECRET_FILE; "
                             "default with the embedded Redis: made once in the data dir)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ide", description="Browser IDE and console service for Python.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve_p = commands.add_parser("serve", help="run the web server")
    serve_p.add_argument("--port", type=int, default=int(_env("PORT", 8000)),
                         help="TCP port (IDE_PORT; default 8000; 0 picks a free one)")
    serve_p.add_argument("--address", default=_env("ADDRESS", "127.0.0.1"),
                         help="address to listen on (IDE_ADDRESS; default 127.0.0.1)")
    _add_storage_flags(serve_p)
    serve_p.add_argument("--allow-signup", action="store_true", default=_env_flag("ALLOW_SIGNUP"),
                         help="let visitors create accounts (IDE_ALLOW_SIGNUP)")
    serve_p.add_argument("--secure-cookies", action="store_true", default=_env_flag("SECURE_COOKIES"),
                         help="mark cookies Secure; use behind HTTPS (IDE_SECURE_COOKIES)")
    serve_p.add_argument("--trust-proxy-headers", action="store_true", default=_env_flag("TRUST_PROXY_HEADERS"),
                         help="take the client address from X-Forwarded-For/X-Real-Ip; only behind a proxy that sets "
                              "them (IDE_TRUST_PROXY_HEADERS)")
    serve_p.add_argument("--sandbox", choices=("auto", "full", "rlimits", "off"), default=_env("SANDBOX", "auto"),
                         help="per-user isolation: full needs root; auto is full as root (or a refusal to start), "
                              "rlimits otherwise (IDE_SANDBOX; default auto)")
    serve_p.add_argument("--unsafe-no-isolation", action="store_true", default=_env_flag("UNSAFE_NO_ISOLATION"),
                         help="as root, let users' programs run without full isolation (all as one unprivileged "
                              "account, <uid-prefix>all-users, able to read each other's files); without it a root "
                              "server refuses to start unless it can isolate fully, and refuses --sandbox off/rlimits"
                              " (IDE_UNSAFE_NO_ISOLATION)")
    serve_p.add_argument("--uid-prefix", default=_env("UID_PREFIX", "ide-"),
                         help="prefix of the Unix accounts made for users (IDE_UID_PREFIX; default ide-)")
    serve_p.add_argument("--cgroup-base", default=_env("CGROUP_BASE", "ide"),
                         help="name of the group, under the server's own cgroup, that holds users' groups "
                              "(IDE_CGROUP_BASE; default ide)")
    serve_p.add_argument("--node-id", default=_env("NODE_ID", ""),
                         help="this node's name when several share one Redis (IDE_NODE_ID; default host:data-dir)")
    serve_p.add_argument("--node-path", type=_node_path, default=_env("NODE_PATH", ""),
                         help="the path under which the proxy in front of several nodes reaches this one, e.g. "
                              "/nodes/n1: pages stream a console through the path of the node that runs it "
                              "(IDE_NODE_PATH)")
    serve_p.add_argument("--apps-domain", type=_apps_domain, default=_env("APPS_DOMAIN", "localhost"),
                         help="web apps are served at <user>.<apps domain> (IDE_APPS_DOMAIN; default localhost, "
                              "so alice's app is http://alice.localhost:<port>/)")
    serve_p.add_argument("--site-url", type=_site_url, default=_env("SITE_URL", ""),
                         help="the IDE's address as browsers reach it, e.g. https://ide.example.com: web apps' "
                              "error pages link there for their owners to sign in (IDE_SITE_URL; default the "
                              "apps domain itself, on the visitor's scheme and port)")
    serve_p.add_argument("--webapp-timeout", type=float, default=float(_env("WEBAPP_TIMEOUT", 300)),
                         help="seconds the front waits for a web app's answer before a 504 "
                              "(IDE_WEBAPP_TIMEOUT; default 300)")
    serve_p.add_argument("--webapp-idle-stop", type=float, default=float(_env("WEBAPP_IDLE_STOP", 3600)),
                         help="seconds without a request after which a free account's web app stops; the next "
                              "request starts it again (IDE_WEBAPP_IDLE_STOP; default 3600)")
    serve_p.add_argument("--stop-all", action="store_true",
                         help="stop every program this node supervises (web apps keep running across restarts "
                              "of the server otherwise), then exit without listening")

    _add_network_flags(serve_p)

    serve_p.add_argument("--adjustable-clock", action="store_true", default=_env_flag("ADJUSTABLE_CLOCK"),
                         help="for tests: the task scheduler adds the offset stored in Redis (ide:clock:offset) "
                              "to the time (IDE_ADJUSTABLE_CLOCK)")

    user_p = commands.add_parser("user", help="manage accounts")
    user_cmds = user_p.add_subparsers(dest="user_command", required=True)
    add = user_cmds.add_parser("add", help="create an account")
    add.add_argument("name")
    add.add_argument("--type", choices=ACCOUNT_TYPES[1:], default="free")
    add.add_argument("--teacher", help="make the new user an accepted student of this teacher")
    add.add_argument("--password", help="the password (prompted for when omitted)")
    setp = user_cmds.add_parser("set", help="change an account")
    setp.add_argument("name")
    setp.add_argument("--type", choices=ACCOUNT_TYPES[1:])
    teacher = setp.add_mutually_exclusive_group()
    teacher.add_argument("--teacher", help="make the user an accepted student of this teacher "
                         "(the operator speaks for both sides); leaves any other class")
    teacher.add_argument("--no-teacher", action="store_true", help="take the user out of their class")
    setp.add_argument("--password", help="a new password: ends every login of the user, their API token "
                                           "and the console connections these opened")
    setp.add_argument("--keep-token", action="store_true",
                      help="with --password, keep the user's API token working")
    token = user_cmds.add_parser("token", help="print a new API token (revokes the old one)")
    token.add_argument("name")
    user_cmds.add_parser("list", help="list accounts")
    for sub in (add, setp, token, user_cmds.choices["list"]):
        _add_storage_flags(sub)

    sandbox_p = commands.add_parser("sandbox", help="inspect the sandbox")
    sandbox_cmds = sandbox_p.add_subparsers(dest="sandbox_command", required=True)
    check = sandbox_cmds.add_parser("check", help="what isolation this machine offers and what the server will use")
    _add_storage_flags(check)
    check.add_argument("--sandbox-network", type=_argument(_pool),
                       default=_env("SANDBOX_NETWORK", DEFAULT_POOL), help="as for ide serve")
    return parser


def _add_network_flags(serve_p: argparse.ArgumentParser) -> None:
    serve_p.add_argument("--sandbox-network", type=_argument(_pool), default=_env("SANDBOX_NETWORK", DEFAULT_POOL),
                         help="IPv4 pool of users' network namespaces; its first address is this server's gateway, "
                              "where the egress proxy listens; each server on a node needs its own "
                              f"(IDE_SANDBOX_NETWORK; default {DEFAULT_POOL})")
    serve_p.add_argument("--egress-allow-cidr", action="append", type=_argument(parse_cidr), dest="egress_allow_cidrs",
                         default=[c for c in _env("EGRESS_ALLOW_CIDRS", "").split(",") if c],
                         help="a private range paying users' programs may reach directly and the proxy may fetch "
                              "from (repeatable; IDE_EGRESS_ALLOW_CIDRS, comma-separated)")
    serve_p.add_argument("--egress-allow-list", type=Path, default=_env("EGRESS_ALLOW_LIST"),
                         help="file of domains (one a line) free accounts may fetch through the proxy "
                              "(IDE_EGRESS_ALLOW_LIST; default: the list shipped with the server)")
    serve_p.add_argument("--egress-dns-server", action="append", dest="egress_dns_servers",
                         default=[a for a in _env("EGRESS_DNS_SERVERS", "").split(",") if a],
                         help="a resolver for the egress proxy instead of those in /etc/resolv.conf (repeatable; "
                              "IDE_EGRESS_DNS_SERVERS, comma-separated)")
    serve_p.add_argument("--egress-hosts-file", type=Path, default=_env("EGRESS_HOSTS_FILE"),
                         help="a hosts file the egress proxy reads before DNS, e.g. for an internal mirror's name "
                              "(IDE_EGRESS_HOSTS_FILE)")
    serve_p.add_argument("--proxy-port", type=int, default=int(_env("PROXY_PORT", DEFAULT_ALLOW_LIST_PORT)),
                         help="the egress proxy's allow-list port on the gateway, the one programs are given "
                              f"(IDE_PROXY_PORT; default {DEFAULT_ALLOW_LIST_PORT})")
    serve_p.add_argument("--proxy-open-port", type=int, default=int(_env("PROXY_OPEN_PORT", DEFAULT_OPEN_PORT)),
                         help="the egress proxy's port for paying accounts, to any public address "
                              f"(IDE_PROXY_OPEN_PORT; default {DEFAULT_OPEN_PORT})")
    serve_p.add_argument("--unsafe-shared-network", action="store_true", default=_env_flag("UNSAFE_SHARED_NETWORK"),
                         help="as root with full isolation, let users' programs share the node's network (they "
                              "reach the server, Redis and every service of the node); without it such a server "
                              "refuses to start unless it can give each user their own network namespace "
                              "(IDE_UNSAFE_SHARED_NETWORK)")


def _read_password(given: str | None) -> str:
    if given is not None:
        return given
    if not sys.stdin.isatty():
        raise AccountError("no password given: pass --password or run in a terminal to be prompted")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password again: "):
        raise AccountError("the two passwords differ")
    return first


UserAction = Callable[[AccountStore, CredentialService, Classroom, AccountTypes], Awaitable[None]]


async def _with_accounts(args: argparse.Namespace, action: UserAction) -> None:
    settings = _storage_settings(args)
    if settings.redis_url is None:
        check_data_dir(settings.data_dir)
    # Running servers hear about what changed on the channel their own changes use,
    # signed as theirs are: they ignore anything else.
    key = load_node_key(settings)
    storage = Storage(settings)
    try:
        redis = await storage.open()
        accounts = AccountStore(redis)
        announce_change = functools.partial(announce, redis, sender=CLI_SENDER, key=key)
        credentials = CredentialService(accounts, SessionStore(redis), TokenStore(redis),
                                        announce=announce_change)
        classes = Classroom(accounts, ClassStore(redis), FileShares(redis), announce_change)
        types = AccountTypes(accounts, announce_change, TaskStore(redis), AlwaysOnStore(redis), WebappStore(redis))
        await action(accounts, credentials, classes, types)
    finally:
        await storage.close()


async def _user_command(args: argparse.Namespace) -> None:
    async def add(accounts: AccountStore, credentials: CredentialService, classes: Classroom,
                  types: AccountTypes) -> None:
        if args.teacher:
            await accounts.require(args.teacher)
        user = await accounts.create(args.name, _read_password(args.password), args.type)
        if args.teacher:
            await classes.enrol(args.teacher, user.name)
        print(f"created {user.name} ({user.account_type})")

    async def change(accounts: AccountStore, credentials: CredentialService, classes: Classroom,
                     types: AccountTypes) -> None:
        user = await accounts.require(args.name)
        if args.type:
            await types.change(user.name, args.type)
        if args.teacher:
            await classes.enrol(args.teacher, user.name)
        elif args.no_teacher:
            await classes.name_teacher(user.name, None)
        if args.password is not None:
            # Someone else setting the password is a reset: every login, the token and the
            # console connections they opened end, unless the token is explicitly kept.
            await credentials.change_password(user.name, args.password, revoke_token=not args.keep_token)
        print(f"updated {user.name}")

    async def token(accounts: AccountStore, credentials: CredentialService, classes: Classroom,
                    types: AccountTypes) -> None:
        user = await accounts.require(args.name)
        print(await credentials.new_token(user.name))

    async def listing(accounts: AccountStore, credentials: CredentialService, classes: Classroom,
                      types: AccountTypes) -> None:
        print(f"{'name':<30} {'type':<14} {'teacher':<30} created")
        for user in await accounts.all_users():
            created = datetime.fromtimestamp(user.created).strftime("%Y-%m-%d %H:%M")
            teacher = user.teacher or "-"
            if user.teacher and not (await classes.membership(user.name)).accepted:
                teacher += " (pending)"
            print(f"{user.name:<30} {user.account_type:<14} {teacher:<30} {created}")

    actions = {"add": add, "set": change, "token": token, "list": listing}
    await _with_accounts(args, actions[args.user_command])


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "serve":
            asyncio.run(serve(_storage_settings(
                args, port=args.port, address=args.address, allow_signup=args.allow_signup,
                secure_cookies=args.secure_cookies, sandbox=args.sandbox,
                trust_proxy_headers=args.trust_proxy_headers, uid_prefix=args.uid_prefix,
                cgroup_base=args.cgroup_base, node_id=args.node_id, node_path=args.node_path,
                apps_domain=args.apps_domain, site_url=args.site_url, webapp_timeout=args.webapp_timeout,
                stop_all=args.stop_all, webapp_idle_stop=args.webapp_idle_stop,
                unsafe_no_isolation=args.unsafe_no_isolation, sandbox_network=args.sandbox_network,
                egress_allow_cidrs=tuple(args.egress_allow_cidrs), egress_allow_list=args.egress_allow_list,
                egress_dns_servers=tuple(args.egress_dns_servers), egress_hosts_file=args.egress_hosts_file,
                proxy_port=args.proxy_port, proxy_open_port=args.proxy_open_port,
                unsafe_shared_network=args.unsafe_shared_network, adjustable_clock=args.adjustable_clock)))
        elif args.command == "user":
            asyncio.run(_user_command(args))
        elif args.command == "sandbox":
            from sandbox.check import report
            print(report(Settings(data_dir=args.data_dir).homes_dir, pool=args.sandbox_network))
        return 0
    except (StartupError, RedisUnavailable, AccountError) as exc:
        print(f"ide: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
