"""Each user's programs in one network namespace of their own, made on their
first spawn; the server's firewall re-applied (a restart) leaves running
namespaces working, and a closed sandbox leaves nothing on the node."""
from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox import Sandbox
from sandbox.network import NetworkIsolation, NetworkSettings
from sandbox.network.addresses import AddressPlan
from sandbox.unix_users import delete_unix_user, unix_name
from tests.sandbox.conftest import TEST_LIMITS
from tests.sandbox.leftovers import TEST_UID_PREFIX, network_leftovers
from tests.sandbox.network_hosts import ECHO_PORT, FORWARDING, NetHost, free_pool, route_device
from tests.sandbox.ptys import read_until, run, run_script, wait_exit

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")

PUBLIC = f"203.0.113.{1 + (os.getpid() + 7) % 250}"
USERS = ("sbxn_one", "sbxn_two", "sbxn_paying")


def _sandbox(data: Path, base: str, pool: str) -> Sandbox:
    return Sandbox(data / "home", isolation="full", cgroup_base=base, uid_prefix=TEST_UID_PREFIX,
                   limits=TEST_LIMITS, network=NetworkSettings(pool=pool))


@pytest.fixture(scope="module")
def networked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sandbox, str, str]]:
    """A sandbox giving users network namespaces, its cgroup base and pool; users made
    in it are removed at the end (USERS)."""
    base, pool = f"ide-test-netns-{os.getpid()}", free_pool()
    sandbox = _sandbox(tmp_path_factory.mktemp("networked"), base, pool)
    yield sandbox, base, pool
    for name in USERS:
        run(sandbox.remove_user(name, delete_home=True))
    run(sandbox.close())


def _namespace_of(sandbox: Sandbox, name: str, account_type: str = "free") -> str:
    status, output = run_script(sandbox, sandbox.identity(name, account_type), "readlink /proc/self/ns/net")
    assert status == 0, output
    return output.strip()


def test_a_users_programs_share_one_namespace_and_everyone_else_has_another(networked):
    sandbox, _, _ = networked
    first = _namespace_of(sandbox, "sbxn_one")
    assert first.startswith("net:[")
    assert _namespace_of(sandbox, "sbxn_one") == first
    assert _namespace_of(sandbox, "sbxn_two") not in (first, os.readlink("/proc/self/ns/net"))


_WAITS_THEN_TALKS = f"""
import socket, sys
conn = socket.create_connection(("{PUBLIC}", {ECHO_PORT}), 3)
print("connected", flush=True)
sys.stdin.readline()
conn.sendall(b"still-there\\n")
print("echo:", conn.recv(100).decode().strip(), flush=True)
"""


def test_a_restarted_server_reapplies_its_rules_without_breaking_running_namespaces(networked):
    sandbox, base, pool = networked
    forwarding = FORWARDING.read_text()
    host = NetHost("rs", [PUBLIC], sources=pool).start()
    try:
        identity = sandbox.identity("sbxn_paying", "hacker")
        assert run_script(sandbox, identity, "true")[0] == 0  # the namespace exists: check its route
        assert sandbox._network is not None
        veth = sandbox._network.plan.veth_for(identity.uid or 0)
        address = str(sandbox._network.plan.address_for(identity.uid or 0))
        assert route_device(PUBLIC, address, veth) == host.node_interface
        process = run(sandbox.spawn(identity, ["python3", "-c", _WAITS_THEN_TALKS], identity.visible_home))
        read_until(process, "connected")
        # What a restarted server does first: the same table, applied again in one transaction.
        NetworkIsolation(NetworkSettings(pool=pool), uid_prefix=TEST_UID_PREFIX, cgroup_base=base).start()
        table = AddressPlan.for_server(pool, TEST_UID_PREFIX, base).table
        paying = json.loads(subprocess.run(["nft", "-j", "list", "set", "inet", table, "paying"],
                                           capture_output=True, text=True, check=True).stdout)
        assert veth in str(paying["nftables"])
        os.write(process.fd, b"go\n")
        assert "echo: still-there" in read_until(process, "echo:")
        assert wait_exit(process) == 0
    finally:
        host.stop()
        FORWARDING.write_text(forwarding)


def test_closing_the_sandbox_removes_idle_namespaces_interfaces_and_rules(tmp_path):
    base, pool = f"ide-test-netclose-{os.getpid()}", free_pool()
    sandbox = _sandbox(tmp_path, base, pool)
    plan = AddressPlan.for_server(pool, TEST_UID_PREFIX, base)
    try:
        identity = sandbox.identity("sbxn_closing", "free")
        assert run_script(sandbox, identity, "true")[0] == 0
        name = unix_name(TEST_UID_PREFIX, "sbxn_closing")
        ours = (name, plan.table, plan.gateway_interface, plan.veth_for(identity.uid or 0))
        assert len([item for item in network_leftovers() if item.endswith(ours)]) == 4
        run(sandbox.close())
        assert [item for item in network_leftovers() if item.endswith(ours)] == []
    finally:
        delete_unix_user(unix_name(TEST_UID_PREFIX, "sbxn_closing"))
