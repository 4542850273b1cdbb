"""Two nodes on an external Redis as docs/deploy.md asks for one (TLS, a password, client
certificates, a shared node secret); and what reaching that Redis still does not allow."""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from ide.credentials import PASSWORD_CHANGED
from tests.client import Client
from tests.consoles.sockjs_client import connect
from tests.external_redis import ADMIN_PASSWORD, PASSWORD, USER, TlsRedis, make_ca, start_tls_redis
from tests.ide.test_cli import run_ide
from tests.ide.test_two_nodes import latest_output
from tests.server import UNISOLATED, ServerProcess, reachable_dir


@pytest.fixture(scope="module")
def tls_redis() -> Iterator[TlsRedis]:
    server = start_tls_redis()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def secret_file(tls_redis: TlsRedis) -> Path:
    """The deployment's node secret, made as docs/deploy.md says (0600, 64 hex digits)."""
    path = tls_redis.directory / "node-secret"
    path.write_text(secrets.token_hex(32) + "\n")
    path.chmod(0o600)
    return path


def deployment_env(tls_redis: TlsRedis, secret_file: Path, password: str | None = PASSWORD) -> dict[str, str]:
    return {"IDE_REDIS_URL": tls_redis.url(password), "IDE_REDIS_CA": str(tls_redis.ca),
            "IDE_REDIS_CERT": str(tls_redis.client_cert), "IDE_REDIS_KEY": str(tls_redis.client_key),
            "IDE_NODE_SECRET_FILE": str(secret_file)}


@pytest.fixture(scope="module")
def nodes(tls_redis: TlsRedis, secret_file: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    data_dir = reachable_dir("ide-test-tls-nodes-")
    env = deployment_env(tls_redis, secret_file)
    first = ServerProcess(data_dir, *UNISOLATED, "--node-id", "n1", "--node-path", "/nodes/n1", env=env)
    second = ServerProcess(data_dir, *UNISOLATED, "--node-id", "n2", "--node-path", "/nodes/n2", env=env)
    try:
        first.start()
        second.start()
        yield first, second
    finally:
        second.stop()
        first.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


async def console_on_first(first: ServerProcess, second: ServerProcess, prefix: str) -> tuple[str, str, str, Client]:
    """A hacker account with a bash console on the first node: name, token, the console's API
    base, and an API client on the second node."""
    name = first.add_user(prefix, account_type="hacker")
    token = first.cli("user", "token", name).stdout.strip()
    created = await Client(first.url, token=token).post(f"/api/v0/user/{name}/consoles/", {"executable": "bash"})
    assert created.status == 201, created.text
    return name, token, f"/api/v0/user/{name}/consoles/{created.json()['id']}/", Client(second.url, token=token)


def sealed_at(secret: bytes, channel: str, payload: str, timestamp_ms: int) -> str:
    """A message sealed as docs/architecture.md describes, at any time."""
    nonce = secrets.token_hex(16)
    signed = b"\n".join([b"ide-node-message", b"1", channel.encode(), str(timestamp_ms).encode(),
                         nonce.encode(), payload.encode()])
    return json.dumps({"v": 1, "t": timestamp_ms, "n": nonce, "p": payload,
                       "mac": hmac.new(secret, signed, hashlib.sha256).hexdigest()})


@pytest.mark.gen_test(timeout=120)
async def test_two_nodes_serve_a_console_through_redis_over_tls_with_a_password(nodes, tls_redis, secret_file):
    first, second = nodes
    name, token, base, on_second = await console_on_first(first, second, "tls")
    typed = await on_second.post(base + "send_input/", {"input": "echo $((6*7))\n"})
    assert typed.status == 200, typed.text
    assert "\n42" in await latest_output(on_second, base, "\n42")
    console_id = base.rstrip("/").rpartition("/")[2]
    stream = await connect("websocket", first.url, console_id, prefix="/nodes/n1/consoles/sockjs",
                           headers={"Authorization": f"Token {token}"})
    try:
        await stream.output_until(r"42")
    finally:
        await stream.close()

    with tls_redis.client() as client:  # the deployment's data is in this Redis, the node secret is not
        assert name in client.smembers("ide:users")
        assert client.hget(f"ide:console:{console_id}", "node") == "n1"
        secret = secret_file.read_text().strip()
        strings = [client.get(key) for key in client.scan_iter() if client.type(key) == "string"]
        assert strings and secret not in strings
    assert (await on_second.delete(base)).status == 204


@pytest.mark.gen_test(timeout=120)
async def test_the_command_lines_signed_announcement_ends_connections_on_the_nodes(nodes):
    first, second = nodes
    name, token, base, _ = await console_on_first(first, second, "cli")
    console_id = base.rstrip("/").rpartition("/")[2]
    stream = await connect("websocket", first.url, console_id, headers={"Authorization": f"Token {token}"})
    assert (await stream.until(lambda m: m[0] in ("setup", "disconnect")))[0] == "setup"
    first.cli("user", "set", name, "--password", "a new password")  # over TLS, signed as cli:<pid>
    assert (await stream.until_closed())[-1] == ["disconnect", PASSWORD_CHANGED]


@pytest.mark.gen_test(timeout=120)
async def test_requests_published_on_redis_by_anything_but_a_node_type_nothing(nodes, tls_redis, secret_file):
    """Whatever reaches Redis (here with its password and certificate) publishes what a node
    would send to type into another user's console: unsigned, signed with another secret, and
    a genuine node's request replayed ten minutes later."""
    first, second = nodes
    victim, _, base, on_second = await console_on_first(first, second, "victim")
    console_id = base.rstrip("/").rpartition("/")[2]
    pwned = first.data_dir / "home" / victim / "pwned"
    channel = "ide:node:n1"

    def request(text: str) -> str:
        return json.dumps({"operation": "input", "console": console_id, "arguments": {"text": text},
                           "reply": "ide:node-reply:" + secrets.token_hex(16), "from": "n2"})

    attack = request("id > ~/pwned\n")
    old = int(time.time() * 1000) - 600_000
    with tls_redis.client() as attacker:
        for forged in (attack, sealed_at(b"not the deployment's secret at all!", channel, attack, old + 600_000),
                       sealed_at(secret_file.read_text().strip().encode(), channel, attack, old)):
            assert attacker.publish(channel, forged) == 1  # n1 hears it

    # The genuine request, sent after them, is answered after them.
    assert (await on_second.post(base + "send_input/", {"input": "echo after$((1+1))\n"})).status == 200
    assert "after2" in await latest_output(on_second, base, "after2")
    assert not pwned.exists()
    log = "".join(first.output)
    assert "ignoring a message on ide:node:n1: not a signed message" in log
    assert "ignoring a message on ide:node:n1: bad signature" in log
    assert "ignoring a message on ide:node:n1: signed 600 s ago, outside the 30 s window" in log
    assert "pwned" not in log  # never the content


def test_a_wrong_password_an_untrusted_certificate_or_a_missing_secret_is_one_line(tls_redis, secret_file, tmp_path):
    other_ca, _ = make_ca(tmp_path, "other-ca")
    world_readable = tmp_path / "open-secret"
    world_readable.write_text(secrets.token_hex(32))
    world_readable.chmod(0o644)
    short = tmp_path / "short-secret"
    short.write_text("tooshort")
    short.chmod(0o600)
    good = deployment_env(tls_redis, secret_file)
    shown = f"rediss://{USER}:***@127.0.0.1:{tls_redis.port}/0"
    cases = {
        "wrong password": ({**good, "IDE_REDIS_URL": tls_redis.url("wrong")},
                           f"Redis at {shown} refused the user or password in --redis-url "
                           "(invalid username-password pair or user is disabled.)"),
        "the default user": ({**good, "IDE_REDIS_URL": tls_redis.url(PASSWORD, user="")},
                             f"Redis at rediss://:***@127.0.0.1:{tls_redis.port}/0 refused the user or password "
                             "in --redis-url (invalid username-password pair or user is disabled.)"),
        "no password": ({**good, "IDE_REDIS_URL": tls_redis.url(None)},
                        f"Redis at rediss://127.0.0.1:{tls_redis.port}/0 requires a password: give it in "
                        "--redis-url (redis://:PASSWORD@host:port/db, or USER:PASSWORD@ for an ACL user)"),
        "untrusted CA": ({**good, "IDE_REDIS_CA": str(other_ca)},
                         f"the TLS certificate of Redis at {shown} is not trusted (self-signed "
                         "certificate in certificate chain): give the CA that signed it with --redis-ca"),
        "no node secret": ({key: value for key, value in good.items() if key != "IDE_NODE_SECRET_FILE"},
                           "--redis-url needs --node-secret-file FILE (IDE_NODE_SECRET_FILE): the nodes sharing "
                           "a Redis and the ide command sign the messages they send each other with one secret, "
                           "kept out of Redis; make it once (openssl rand -hex 32 > FILE; chmod 600 FILE) and "
                           "give every node and ide command the same file"),
        "readable secret": ({**good, "IDE_NODE_SECRET_FILE": str(world_readable)},
                            f"the node secret file {world_readable} is open to other users (mode 0644): "
                            f"chmod 600 {world_readable}"),
        "short secret": ({**good, "IDE_NODE_SECRET_FILE": str(short)},
                         f"the node secret in {short} is too short (8 bytes, at least 32): make one with "
                         "openssl rand -hex 32 > FILE; chmod 600 FILE"),
        "TLS files without TLS": ({**good, "IDE_REDIS_URL": tls_redis.url().replace("rediss:", "redis:")},
                                  "--redis-ca, --redis-cert, --redis-key only apply to TLS: use a rediss:// URL"),
        "not a Redis URL": ({**good, "IDE_REDIS_URL": f"http://:{PASSWORD}@127.0.0.1/"},
                            "--redis-url must start with redis://, rediss:// (TLS) or unix://, "
                            "not 'http://:***@127.0.0.1/'"),
    }
    for what, (env, message) in cases.items():
        for command in (("serve", "--port", "0"), ("user", "list")):
            result = run_ide(*command, "--data-dir", str(tmp_path / "data"), env=env)
            assert result.returncode == 1, (what, command, result.stdout)
            assert result.stderr.strip().splitlines()[-1] == f"ide: error: {message}", (what, command)
            assert "Traceback" not in result.stderr and PASSWORD not in result.stderr, (what, command)
    assert not os.path.exists(tmp_path / "data" / "node-secret")  # with --redis-url none is ever made


def test_rotating_the_password_as_deploy_md_says_never_locks_the_deployment_out(secret_file, tmp_path):
    redis_server = start_tls_redis()  # its own: the password changes
    try:
        old = deployment_env(redis_server, secret_file)
        new = {**old, "IDE_REDIS_URL": redis_server.url("the-new-password-0d1e")}

        def user_list(env: dict[str, str]):
            return run_ide("user", "list", "--data-dir", str(tmp_path / "data"), env=env)

        with redis.Redis.from_url(redis_server.url(ADMIN_PASSWORD, user="admin"), ssl_ca_certs=str(redis_server.ca),
                                  ssl_certfile=str(redis_server.client_cert),
                                  ssl_keyfile=str(redis_server.client_key)) as admin:
            admin.execute_command("ACL", "SETUSER", USER, ">the-new-password-0d1e")
            assert user_list(old).returncode == 0 and user_list(new).returncode == 0
            admin.execute_command("ACL", "SETUSER", USER, f"<{PASSWORD}")
        refused = user_list(old)
        assert refused.returncode == 1 and "refused the user or password" in refused.stderr
        assert user_list(new).returncode == 0
    finally:
        redis_server.stop()
