"""Users' programs in their own network namespaces, shown from real consoles of
an isolated server (as root): what a paying and a free user's programs can
reach, that nothing of the node or of other users is reachable, and that
changing an account's type changes its running programs' egress at once.

The only hosts contacted are the test's own (``NetHost``): a public-looking
address (TEST-NET-3) plays the internet, 169.254.169.254 the cloud's
metadata service, and a private range is admitted with --egress-allow-cidr.
"""
from __future__ import annotations

import asyncio
import http.server
import ipaddress
import json
import os
import pwd
import re
import subprocess
import threading
from collections.abc import Iterator

import pytest

from sandbox.network.addresses import AddressPlan
from tests.client import Client
from tests.ide.test_sandboxed_server import run_in_console
from tests.sandbox.leftovers import TEST_UID_PREFIX, HostSnapshot, cgroup_groups, network_leftovers
from tests.sandbox.network_hosts import ECHO_PORT, FORWARDING, HTTP_PORT, NetHost, free_pool, route_device
from tests.server import PROXY_DNS, ROOT, ServerProcess

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")

PUBLIC = f"203.0.113.{1 + os.getpid() % 250}"
METADATA = "169.254.169.254"
ADMITTED_RANGE = f"10.199.{os.getpid() % 250}.0/24"
ADMITTED = str(ipaddress.IPv4Network(ADMITTED_RANGE).network_address + 10)


class NodeListener:
    """An HTTP server of the node's own (root namespace) on one address: consoles must never reach it."""

    def __init__(self, address: str) -> None:
        handler = type("Answer", (http.server.BaseHTTPRequestHandler,), {
            "do_GET": lambda self: (self.send_response(200), self.end_headers(),
                                    self.wfile.write(b"NODE-ANSWER\n")),
            "log_message": lambda self, *args: None})
        self.server = http.server.ThreadingHTTPServer((address, 0), handler)
        self.url = f"http://{address}:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def pool() -> str:
    return free_pool()


@pytest.fixture(scope="module")
def test_host(pool: str) -> Iterator[NetHost]:
    forwarding = FORWARDING.read_text()
    host = NetHost("net", [PUBLIC, METADATA, ADMITTED], sources=pool, from_node=[ADMITTED]).start()
    yield host
    host.stop()
    FORWARDING.write_text(forwarding)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, test_host: NetHost, pool: str) -> Iterator[ServerProcess]:
    base = f"ide-test-net-{os.getpid()}"
    snapshot = HostSnapshot.take()
    data_dir = tmp_path_factory.mktemp("network")
    server = ServerProcess(data_dir, "--sandbox", "full", "--uid-prefix", TEST_UID_PREFIX,
                           "--cgroup-base", base, "--sandbox-network", pool,
                           "--egress-allow-cidr", ADMITTED_RANGE, *PROXY_DNS).start()
    server.pool = ipaddress.IPv4Network(pool)  # type: ignore[attr-defined]
    yield server
    server.stop()
    for entry in pwd.getpwall():
        if entry.pw_name.startswith(TEST_UID_PREFIX + "net"):
            subprocess.run(["userdel", entry.pw_name], check=False, capture_output=True)
    # The test host goes after the server.
    host = (test_host.name, test_host.node_interface)
    assert [left for left in snapshot.leftovers(base) if not left.endswith(host)] == []


class Console:
    """A user's bash console on the server, and what commands print in it."""

    def __init__(self, server: ServerProcess, name: str, client: Client, console_id: str) -> None:
        self.server, self.name, self.client, self.id = server, name, client, console_id
        self._count = 0

    @classmethod
    async def open(cls, server: ServerProcess, account_type: str) -> Console:
        name = server.add_user("net", account_type=account_type)
        client = Client(server.url, token=server.cli("user", "token", name).stdout.strip())
        console = (await client.post(f"/api/v0/user/{name}/consoles/", {"executable": "bash"})).json()
        return cls(server, name, client, console["id"])

    async def run(self, command: str) -> str:
        self._count += 1
        return await run_in_console(self.client, self.name, self.id, command, f"R{self._count}")

    async def fetch(self, url: str) -> str:
        """What a direct (never proxied) HTTP GET prints, errors included; 3 s at most."""
        return await self.run(f"curl -sS --noproxy '*' --max-time 3 {url} 2>&1 | head -c 300; echo")

    @property
    def uid(self) -> int:
        return pwd.getpwnam(TEST_UID_PREFIX + self.name).pw_uid

    def address(self) -> str:
        pool = self.server.pool  # type: ignore[attr-defined]
        return str(pool.network_address + 2 + self.uid)

    def routed_to(self, address: str) -> str:
        """Where the node forwards this console's packets to ``address``."""
        return route_device(address, self.address(), f"{TEST_UID_PREFIX[:4]}v{self.uid}")


def refused(output: str) -> bool:
    """curl failed to connect or timed out: never an answer."""
    return "ANSWER" not in output and re.search(r"curl: \((7|28)\)", output) is not None


@pytest.mark.gen_test(timeout=180)
async def test_a_paying_console_reaches_public_hosts_directly_and_a_free_one_nothing(server, test_host):
    paying = await Console.open(server, "hacker")
    free = await Console.open(server, "free")
    assert paying.routed_to(PUBLIC) == paying.routed_to(ADMITTED) == test_host.node_interface
    inside = await paying.run("ip -4 -o addr show dev eth0")
    assert f"{paying.address()}/32" in inside, "the console is not in its own network namespace"

    assert test_host.answer in await paying.fetch(f"http://{PUBLIC}:{HTTP_PORT}/")
    assert test_host.answer in await paying.fetch(f"http://{ADMITTED}:{HTTP_PORT}/")  # --egress-allow-cidr
    for url in (f"http://{PUBLIC}:{HTTP_PORT}/", f"http://{ADMITTED}:{HTTP_PORT}/"):
        assert refused(await free.fetch(url)), url
    # No IPv6 but the link-local address facing the node, which has none on its side.
    assert (await paying.run("ip -6 route show default; ip -6 addr show scope global")).strip() == ""


@pytest.mark.gen_test(timeout=180)
async def test_programs_are_sent_to_the_egress_proxy_on_the_port_of_their_account_type(server, test_host):
    """Both go to the allow-list port their environment names; the firewall redirects a
    paying user's connection to the open port, which fetches from an admitted range
    (the allow-list port never fetches an address)."""
    paying = await Console.open(server, "hacker")
    free = await Console.open(server, "free")
    assert json.loads(subprocess.run(["ip", "-j", "route", "get", ADMITTED], capture_output=True, text=True,
                                     check=True).stdout)[0]["dev"] == test_host.node_interface
    gateway = server.pool.network_address + 1  # type: ignore[attr-defined]
    assert f"http://{gateway}:3128" in await free.run("echo $http_proxy")
    proxied = "curl -sS --max-time 10 http://{}:{}/ 2>&1 | head -c 300; echo"
    assert test_host.answer in await paying.run(proxied.format(ADMITTED, HTTP_PORT))
    refusal = await free.run(proxied.format(ADMITTED, HTTP_PORT))
    assert "is not on this server's allow-list for free accounts" in refusal and test_host.answer not in refusal
    assert refused(await free.fetch(f"http://{gateway}:3129/"))  # the open port, directly


@pytest.mark.gen_test(timeout=180)
async def test_no_console_reaches_the_node_other_users_or_the_metadata_address(server, test_host):
    paying = await Console.open(server, "hacker")
    free = await Console.open(server, "free")
    neighbour = await Console.open(server, "hacker")
    await neighbour.run("(python3 -m http.server 8099 --bind 0.0.0.0 >/dev/null 2>&1 &)")
    # Listening in its own namespace, on its own loopback too:
    for _ in range(50):
        own = await neighbour.fetch("http://127.0.0.1:8099/")
        if "Directory listing" in own:
            break
    assert "Directory listing" in own
    assert paying.routed_to(METADATA) == free.routed_to(METADATA) == test_host.node_interface
    pool = server.pool  # type: ignore[attr-defined]
    node_listeners = [NodeListener(str(pool.network_address + 1)), NodeListener(test_host.node_address)]
    socket_path = re.search(r"^unixsocket (.+)$", (server.data_dir / "redis" / "redis.conf").read_text(),
                            re.M).group(1)  # type: ignore[union-attr]
    try:
        targets = [f"http://127.0.0.1:{server.port}/",  # the server on the node's loopback
                   *(listener.url for listener in node_listeners),  # the gateway, another node address
                   f"http://{neighbour.address()}:8099/",  # another user's namespace
                   f"http://{METADATA}:{HTTP_PORT}/"]  # link-local, routed to the test host
        for console in (paying, free):
            for url in targets:
                assert refused(await console.fetch(url)), f"{console.name} reached {url}"
            redis = await console.run(
                "python3 -c \"import socket; s = socket.socket(socket.AF_UNIX); "
                f"s.connect('{socket_path}'); s.sendall(b'PING\\r\\n'); print(s.recv(64))\" 2>&1 | tail -1")
            assert "PONG" not in redis and "Error" in redis
    finally:
        for listener in node_listeners:
            listener.close()


async def _wait_for_line(path, wanted: str) -> str:
    for _ in range(200):
        text = path.read_text() if path.exists() else ""
        if wanted in text:
            return text
        await asyncio.sleep(0.05)
    return path.read_text() if path.exists() else ""


_KEEPS_TALKING = f"""
import socket, time
conn = socket.create_connection(("{PUBLIC}", {ECHO_PORT}), 3)
count = 0
try:
    while True:
        conn.sendall(b"ping\\n")
        if not conn.recv(100):
            print("CLOSED", flush=True)
            break
        count += 1
        print("alive", count, flush=True)
        time.sleep(0.1)
except OSError as exc:
    print("DEAD", exc, flush=True)
"""


@pytest.mark.gen_test(timeout=180)
async def test_a_downgrade_cuts_running_programs_off_at_once_and_an_upgrade_lets_them_out(server, test_host):
    user = await Console.open(server, "hacker")
    assert user.routed_to(PUBLIC) == test_host.node_interface
    home = server.data_dir / "home" / user.name
    await user.client.put(f"/api/v0/user/{user.name}/files/path/home/{user.name}/talk.py",
                          {"content": _KEEPS_TALKING})
    await user.run("(python3 -u talk.py > talk.log 2>&1 &)")
    assert "alive 5" in await _wait_for_line(home / "talk.log", "alive 5")

    await asyncio.to_thread(server.cli, "user", "set", user.name, "--type", "free")
    log = await _wait_for_line(home / "talk.log", "DEAD")
    assert "DEAD" in log, f"the established connection survived the downgrade: {log[-200:]!r}"
    assert refused(await user.fetch(f"http://{PUBLIC}:{HTTP_PORT}/"))

    await asyncio.to_thread(server.cli, "user", "set", user.name, "--type", "web_developer")
    answer = ""
    for _ in range(20):  # the node applies the change when the message arrives
        answer = await user.fetch(f"http://{PUBLIC}:{HTTP_PORT}/")
        if test_host.answer in answer:
            break
    assert test_host.answer in answer


def _serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([os.sys.executable, "-m", "ide", "serve", "--port", "0", "--uid-prefix", TEST_UID_PREFIX,
                           *args], cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_as_root_the_server_refuses_to_start_without_network_isolation_unless_told(tmp_path):
    pool = ipaddress.IPv4Network(free_pool())
    base = f"ide-test-netoff-{os.getpid()}"
    plan = AddressPlan.for_server(str(pool), TEST_UID_PREFIX, base)
    busy = f"{TEST_UID_PREFIX[:4]}busy{os.getpid() % 10000}"
    # Something of the node's already lives in the pool: users' namespaces cannot be made there.
    subprocess.run(["ip", "link", "add", busy, "type", "bridge"], check=True)
    try:
        subprocess.run(["ip", "addr", "add", f"{pool.network_address + 1}/32", "dev", busy], check=True)
        refused_start = _serve("--data-dir", str(tmp_path), "--sandbox", "full", "--cgroup-base", base,
                               "--sandbox-network", str(pool))
        assert refused_start.returncode == 1 and "Listening" not in refused_start.stdout
        error = refused_start.stderr.strip().splitlines()
        assert len(error) == 1 and error[0].startswith(
            f"ide: error: network isolation is not possible here: the node's address "
            f"{pool.network_address + 1}/32 on {busy} lies in {pool}")
        assert error[0].endswith("(or with --unsafe-shared-network)")

        server = ServerProcess(tmp_path, "--sandbox", "full", "--uid-prefix", TEST_UID_PREFIX, "--cgroup-base",
                               base, "--sandbox-network", str(pool), "--unsafe-shared-network")
        try:
            server.start()
            assert any("UNSAFE (--unsafe-shared-network)" in line and "share the node's network" in line
                       for line in server.output)
        finally:
            server.stop()
    finally:
        subprocess.run(["ip", "link", "del", busy], check=False)
    left = [f"cgroup {group}" for group in cgroup_groups(base)]
    left += [item for item in network_leftovers() if item.endswith((plan.table, plan.gateway_interface))]
    assert left == []


def test_sandbox_check_reports_users_network_namespaces():
    pool = ipaddress.IPv4Network(free_pool())
    result = subprocess.run([os.sys.executable, "-m", "ide", "sandbox", "check", "--sandbox-network", str(pool)],
                            cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    assert "network:     ip " in result.stdout and "network namespaces and nftables work" in result.stdout
    assert (f"a private network namespace per user ({pool}, gateway {pool.network_address + 1})"
            in result.stdout.splitlines()[-1])


def test_a_bad_allow_list_stops_the_server_with_the_line_at_fault(tmp_path):
    allow_list = tmp_path / "allow.txt"
    allow_list.write_text("pypi.org\nnot a domain\n")
    result = _serve("--data-dir", str(tmp_path), "--egress-allow-list", str(allow_list))
    assert result.returncode == 1 and "Listening" not in result.stdout
    assert result.stderr.startswith(f"ide: error: {allow_list}, line 2: ")
    nowhere = tmp_path / "nowhere.txt"
    missing = _serve("--data-dir", str(tmp_path), "--egress-allow-list", str(nowhere))
    assert missing.returncode == 1
    assert missing.stderr.strip() == f"ide: error: --egress-allow-list {nowhere}: No such file or directory"


@pytest.fixture(scope="module")
def listing_server(tmp_path_factory: pytest.TempPathFactory, test_host: NetHost) -> Iterator[ServerProcess]:
    """A server whose allow-list names a site of the test's own, found through the proxy's hosts file
    (on a pool of its own: the module's other server may still hold its pool)."""
    pool = free_pool()
    base = f"ide-test-netlist-{os.getpid()}"
    directory = tmp_path_factory.mktemp("listing")
    (directory / "allow.txt").write_text("# the test's own package index\nindex.pytest-site.example\n")
    (directory / "hosts").write_text(f"{ADMITTED} index.pytest-site.example\n")
    listing = ServerProcess(directory / "data", "--sandbox", "full", "--uid-prefix", TEST_UID_PREFIX,
                            "--cgroup-base", base, "--sandbox-network", pool,
                            "--egress-allow-cidr", ADMITTED_RANGE, "--egress-allow-list", str(directory / "allow.txt"),
                            "--egress-hosts-file", str(directory / "hosts"), *PROXY_DNS).start()
    listing.pool = ipaddress.IPv4Network(pool)  # type: ignore[attr-defined]
    yield listing
    listing.stop()
    for entry in pwd.getpwall():
        if entry.pw_name.startswith(TEST_UID_PREFIX + "net"):
            subprocess.run(["userdel", entry.pw_name], check=False, capture_output=True)


@pytest.mark.gen_test(timeout=180)
async def test_a_free_console_reaches_an_allow_listed_site_through_the_proxy_and_nothing_else(listing_server,
                                                                                              test_host):
    free = await Console.open(listing_server, "free")
    assert free.routed_to(ADMITTED) == test_host.node_interface
    # The name is on the list: the proxy fetches it, with nothing but the environment's proxy settings.
    listed = await free.run(f"curl -sS --max-time 10 http://index.pytest-site.example:{HTTP_PORT}/ 2>&1 | "
                            "head -c 300; echo")
    assert test_host.answer in listed
    # Python's own HTTP client finds the proxy the same way (so do pip and requests).
    python = await free.run(
        "python3 -c \"import urllib.request; print(urllib.request.urlopen("
        f"'http://index.pytest-site.example:{HTTP_PORT}/', timeout=10).read()[:100])\" 2>&1 | tail -1")
    assert test_host.answer in python
    # Its address, directly, is refused; so is a name that is not on the list, through the proxy.
    assert refused(await free.fetch(f"http://{ADMITTED}:{HTTP_PORT}/"))
    other = await free.run(f"curl -sS --max-time 10 http://{ADMITTED}:{HTTP_PORT}/ 2>&1 | head -c 300; echo")
    assert "is not on this server's allow-list for free accounts" in other and test_host.answer not in other
