"""The egress proxy's rules, attacked through a real Squid against test hosts in a namespace of our own.

The test host answers on an admitted address (10.252.n.2), a public one
(192.88.99.n), a private one (10.99.n.7), 169.254.169.254 and a unique-local
IPv6 one, all routed into the same namespace, and logs every connection: a
refusal is proved by a listener that saw nothing, next to a second proxy that
admits those addresses and does reach it. Names come from the proxy's hosts
file; the only resolver Squid knows is a recorder in the namespace, so a DNS
lookup would show, and none can leave the machine.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

import psutil
import pytest

from sandbox.network.allow_list import AllowList
from sandbox.network.proxy import EgressProxy
from sandbox.network.squid_config import MAX_CONNECTIONS_PER_CLIENT
from tests.sandbox.netns import HostProcess, LoopThread, ScratchNetwork, make_certificate, require_tools
from tests.sandbox.package_index import PROJECT, WHEEL, build_index
from tests.sandbox.proxy_clients import (
    TIMEOUT,
    CountingListener,
    RssPeak,
    connect_request,
    curl,
    exchange,
    free_port,
    get_request,
)

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="namespaces and veth pairs need root"),
    pytest.mark.skipif(bool(require_tools()), reason=f"missing {require_tools()}"),
]

NOT_LISTED = "is not on this server's allow-list for free accounts"
INTERNAL = "resolves to an address that is not on the public internet"
PORT_REFUSED = "The proxy does not connect to port"


@dataclass
class Site:
    """Everything the module shares: the namespace, its hosts and two proxies."""

    loop: LoopThread
    network: ScratchNetwork
    web: HostProcess
    dns: HostProcess
    cert: Path
    wheel: Path
    proxy: EgressProxy
    admitting: EgressProxy
    """The same proxy, with the private and metadata addresses admitted: the control."""


def _hosts_file(path: Path, network: ScratchNetwork) -> Path:
    path.write_text(
        "127.0.0.1 localhost\n"  # Squid looks its clients' addresses up (PTR); answer here
        f"{network.host_address} pkg.test files.pkg.test open.example\n"
        f"{network.private_address} rebind.pkg.test rebind.test\n"
        f"{network.metadata_address} metadata.pkg.test\n"
        f"{network.host_address} mixed.pkg.test\n"
        f"{network.private_address} mixed.pkg.test\n"
        f"{network.host_address6} ula.pkg.test\n"
        f"{network.public_address} public.pkg.test public.example\n")
    return path


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with ExitStack() as cleanup:
        root = Path(cleanup.enter_context(TemporaryDirectory(prefix="egress-test-")))
        root.chmod(0o755)  # Squid reads its files as the proxy account
        loop = LoopThread()
        cleanup.callback(loop.close)
        network = ScratchNetwork.create()
        cleanup.callback(network.destroy)
        wheel = build_index(root / "www")
        cert, key = make_certificate(root, ["pkg.test", "files.pkg.test", "open.example", "public.pkg.test",
                                            "public.example"], network.host_address)
        web = network.start_host("web", "--directory", str(root / "www"), "--tls-cert", str(cert),
                                 "--tls-key", str(key))
        dns = network.start_host("dns", "--address", network.host_address)
        hosts_file = _hosts_file(root / "hosts", network)
        allow_list = AllowList(("pkg.test", "rebind.test"))

        def start(run_dir: Path, cidrs: list[str]) -> EgressProxy:
            proxy = EgressProxy(listen_address="127.0.0.1", allow_list_port=free_port(), open_port=free_port(),
                                allow_list=allow_list, allowed_cidrs=cidrs, run_dir=run_dir,
                                hosts_file=hosts_file, dns_servers=[network.host_address])
            loop.call(proxy.start())
            cleanup.callback(lambda: loop.call(proxy.stop()))
            return proxy

        proxy = start(root / "proxy", [network.subnet])
        admitting = start(root / "admitting", [network.subnet, f"{network.private_address}/32",
                                               f"{network.metadata_address}/32", f"{network.host_address6}/128"])
        yield Site(loop, network, web, dns, cert, wheel, proxy, admitting)


def connections_to(host: HostProcess, address: str) -> list[str]:
    return [line for line in host.events() if line.startswith("CONNECTION ") and line.split()[1] == address]


def queries(dns: HostProcess) -> list[str]:
    return [line for line in dns.events() if line.startswith("QUERY")]


def test_allow_listed_name_answers_over_http_and_https(site: Site) -> None:
    plain = curl(site.proxy.proxy_url(), f"http://pkg.test/simple/{PROJECT}/")
    assert plain.status == 200 and WHEEL in plain.body
    tls = curl(site.proxy.proxy_url(), "https://files.pkg.test/simple/", ca=site.cert)
    assert tls.status == 200 and PROJECT in tls.body
    assert connections_to(site.web, site.network.host_address)


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_pip_downloads_through_the_allow_list_port_with_only_proxy_variables(
        site: Site, scheme: str, tmp_path: Path) -> None:
    proxy = site.proxy.proxy_url()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "http_proxy": proxy, "https_proxy": proxy,
           "PIP_CONFIG_FILE": os.devnull, "PIP_NO_CACHE_DIR": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--index-url", f"{scheme}://pkg.test/simple/",
         "--cert", str(site.cert), "--dest", str(tmp_path / "got"), PROJECT,
         *(["--trusted-host", "pkg.test"] if scheme == "http" else [])],
        env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "got" / WHEEL).read_bytes() == site.wheel.read_bytes()


@pytest.mark.parametrize("name", ["nowhere.example", "pkg.test.nowhere.example", "evilpkg.test"])
def test_name_not_on_the_list_gets_the_allow_list_403_without_a_dns_lookup(site: Site, name: str) -> None:
    before = queries(site.dns)
    for request in (get_request(f"http://{name}/simple/"), connect_request(f"{name}:443")):
        answer = exchange(site.proxy.allow_list_port, request)
        assert answer.status == 403
        assert f"{name} {NOT_LISTED}" in answer.body
        assert "upgrade to a paid account" in answer.body and "ask the operator" in answer.body
    assert queries(site.dns) == before
    # The same name through the open port is looked up, so the recorder would have shown it.
    looked_up = exchange(site.proxy.open_port, get_request(f"http://{name}/"))
    assert looked_up.status >= 500
    assert f"QUERY {name}" in queries(site.dns)


def test_open_port_reaches_the_test_host_by_address_and_by_name(site: Site) -> None:
    by_address = curl(site.proxy.open_url(), f"http://{site.network.host_address}/bytes/1000")
    assert by_address.status == 200 and len(by_address.body) == 1000
    by_name = curl(site.proxy.open_url(), "https://open.example/simple/", ca=site.cert)
    assert by_name.status == 200 and PROJECT in by_name.body
    not_listed = exchange(site.proxy.allow_list_port, get_request("http://open.example/"))
    assert not_listed.status == 403 and NOT_LISTED in not_listed.body


@pytest.mark.parametrize("where", ["127.0.0.1", "::1", "node"])
def test_both_ports_refuse_the_node_itself(site: Site, where: str) -> None:
    """Loopback, and the node's address on the test network even though that network is admitted."""
    listener = CountingListener(site.network.node_address if where == "node" else where)
    try:
        for port in (site.proxy.allow_list_port, site.proxy.open_port):
            for request in (get_request(f"http://{listener.target}/"), connect_request(listener.target)):
                answer = exchange(port, request)
                assert answer.status == 403, answer
                assert (NOT_LISTED if port == site.proxy.allow_list_port else INTERNAL) in answer.body
        assert listener.accepted == 0
        socket.create_connection((listener.address, listener.port), timeout=TIMEOUT).close()
        listener.wait_for(1)
    finally:
        listener.close()


@pytest.mark.parametrize("spelling", ["[::ffff:127.0.0.1]", "2130706433", "0x7f.0.0.1", "127.1", "0177.0.0.1"])
def test_other_spellings_of_loopback_reach_nothing(site: Site, spelling: str) -> None:
    """Squid reads every spelling as the address itself, so the address rule refuses each."""
    listener = CountingListener("127.0.0.1")
    try:
        for request in (get_request(f"http://{spelling}:{listener.port}/"),
                        connect_request(f"{spelling}:{listener.port}")):
            answer = exchange(site.proxy.open_port, request)
            assert answer.status == 403 and f"127.0.0.1 {INTERNAL}" in answer.body, answer
        assert listener.accepted == 0
    finally:
        listener.close()


@pytest.mark.parametrize("which", ["private", "metadata", "unique-local IPv6"])
def test_internal_addresses_are_refused_unless_admitted(site: Site, which: str) -> None:
    address, name = {"private": (site.network.private_address, "rebind.pkg.test"),
                     "metadata": (site.network.metadata_address, "metadata.pkg.test"),
                     "unique-local IPv6": (site.network.host_address6, "ula.pkg.test")}[which]
    assert "dev egt" in subprocess.run(["ip", "route", "get", address], capture_output=True, text=True).stdout
    literal = f"[{address}]" if ":" in address else address
    requests = [(site.proxy.open_port, get_request(f"http://{literal}/headers")),
                (site.proxy.open_port, connect_request(f"{literal}:443")),
                (site.proxy.open_port, get_request(f"http://{name}/headers")),
                (site.proxy.allow_list_port, get_request(f"http://{name}/headers")),
                (site.proxy.allow_list_port, connect_request(f"{name}:443"))]
    for port, request in requests:
        answer = exchange(port, request)
        assert answer.status == 403 and INTERNAL in answer.body, answer
    assert connections_to(site.web, address) == []
    admitted = curl(site.admitting.proxy_url(), f"http://{name}/headers")
    assert admitted.status == 200
    assert connections_to(site.web, address) != []


def test_a_listed_name_with_one_private_address_among_public_ones_is_refused(site: Site) -> None:
    before = site.web.events()
    for request in (get_request("http://mixed.pkg.test/"), connect_request("mixed.pkg.test:443")):
        answer = exchange(site.proxy.allow_list_port, request)
        assert answer.status == 403 and INTERNAL in answer.body, answer
    assert site.web.events() == before


def test_dns_rebinding_name_on_the_list_is_refused(site: Site) -> None:
    before = len(connections_to(site.web, site.network.private_address))
    for port in (site.proxy.allow_list_port, site.proxy.open_port):
        for request in (get_request("http://rebind.test/"), connect_request("rebind.test:443")):
            answer = exchange(port, request)
            assert answer.status == 403 and f"rebind.test {INTERNAL}" in answer.body, answer
    assert len(connections_to(site.web, site.network.private_address)) == before
    assert curl(site.admitting.proxy_url(), "http://rebind.test/").status == 200


def test_a_public_address_is_reached_through_both_ports_without_being_admitted(site: Site) -> None:
    public = site.network.public_address
    assert "dev egt" in subprocess.run(["ip", "route", "get", public], capture_output=True, text=True).stdout
    assert curl(site.proxy.open_url(), f"http://{public}/headers").status == 200
    assert curl(site.proxy.open_url(), "https://public.example/simple/", ca=site.cert).status == 200
    assert curl(site.proxy.proxy_url(), "http://public.pkg.test/simple/").status == 200
    assert curl(site.proxy.proxy_url(), "https://public.pkg.test/simple/", ca=site.cert).status == 200
    assert connections_to(site.web, public)


def test_tunnel_ports_follow_the_rules(site: Site) -> None:
    """Free accounts tunnel to 443 (any port of an admitted host), paid ones to any port but 25."""
    before = len(connections_to(site.web, site.network.public_address))
    free_tunnel = exchange(site.proxy.allow_list_port, connect_request("public.pkg.test:8443"))
    assert free_tunnel.status == 403 and f"{PORT_REFUSED} 8443 of public.pkg.test" in free_tunnel.body
    assert len(connections_to(site.web, site.network.public_address)) == before
    assert curl(site.proxy.proxy_url(), "https://pkg.test:8443/simple/", ca=site.cert).status == 200
    assert curl(site.proxy.open_url(), "https://public.example:8443/simple/", ca=site.cert).status == 200
    smtp = exchange(site.proxy.open_port, connect_request("public.example:25"))
    assert smtp.status == 403 and PORT_REFUSED in smtp.body


def test_plain_http_to_service_ports_and_other_protocols_is_refused(site: Site) -> None:
    shell = exchange(site.proxy.open_port, get_request("http://public.example:22/"))
    assert shell.status == 403 and f"{PORT_REFUSED} 22 of public.example" in shell.body
    ftp = exchange(site.proxy.allow_list_port, get_request("ftp://pkg.test/"))
    assert ftp.status == 403 and "relays HTTP and HTTPS only" in ftp.body


def test_a_200_mb_download_streams_through_squid_without_its_memory_growing(site: Site) -> None:
    """The client reads at half the host's pace: a proxy that buffered ahead would grow by the difference."""
    size = 200 * 1024 * 1024
    assert site.proxy.pid is not None
    before = psutil.Process(site.proxy.pid).memory_info().rss
    sampler = RssPeak(site.proxy.pid)
    result = subprocess.run(["curl", "-q", "-sS", "--noproxy", "", "-x", site.proxy.open_url(), "-o", os.devnull,
                             "--limit-rate", "100M",
                             "-w", "%{size_download}", f"http://{site.network.host_address}/bytes/{size}"],
                            capture_output=True, text=True, timeout=300)
    peak = sampler.stop()
    assert result.stdout == str(size), result.stderr
    assert peak - before < 16 * 1024 * 1024, f"Squid grew from {before} to {peak} bytes"


def test_destination_sees_neither_via_nor_forwarded_for(site: Site) -> None:
    answer = curl(site.proxy.open_url(), "http://open.example/headers")
    assert answer.status == 200 and "Host: open.example" in answer.body
    headers = answer.body.lower()
    assert "via:" not in headers and "x-forwarded-for" not in headers and "forwarded:" not in headers
    assert "127.0.0.1" not in headers


def test_a_host_header_cannot_front_for_a_name_off_the_list(site: Site) -> None:
    """Plain HTTP goes to the URL's host and tells it that name, whatever Host the client wrote."""
    request = b"GET http://pkg.test/headers HTTP/1.1\r\nHost: nowhere.example\r\nConnection: close\r\n\r\n"
    answer = exchange(site.proxy.allow_list_port, request)
    assert answer.status == 200 and "Host: pkg.test" in answer.body and "nowhere.example" not in answer.body


def test_cache_manager_is_refused(site: Site) -> None:
    for port in (site.proxy.allow_list_port, site.proxy.open_port):
        answer = exchange(port, f"GET /squid-internal-mgr/menu HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        assert answer.status == 403, answer
        manager = exchange(port, get_request(f"cache_object://127.0.0.1:{port}/info"))
        assert manager.status in (400, 403), manager


def test_malformed_and_stalled_clients_get_errors_and_others_are_served(site: Site) -> None:
    port = site.proxy.allow_list_port
    garbage = exchange(port, os.urandom(2048).replace(b"\n", b"") + b"\r\n\r\n")
    assert garbage.status in (0, 400)
    huge = exchange(port, b"GET http://pkg.test/ HTTP/1.1\r\nHost: pkg.test\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n")
    assert huge.status in (400, 431), huge
    stalled = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    try:
        stalled.sendall(b"GET http://pkg.test/ HTTP/1.1\r\nHost: pk")
        served = curl(site.proxy.proxy_url(), "http://pkg.test/simple/")
        assert served.status == 200
    finally:
        stalled.close()
    assert site.proxy.running
    assert curl(site.proxy.proxy_url(), "http://pkg.test/simple/").status == 200


def test_one_client_cannot_hold_more_than_its_share_of_connections(site: Site) -> None:
    port = site.proxy.allow_list_port
    held = [socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
            for _ in range(MAX_CONNECTIONS_PER_CLIENT)]
    try:
        crowded = exchange(port, get_request("http://pkg.test/simple/"))
        assert crowded.status == 403
        assert f"more than {MAX_CONNECTIONS_PER_CLIENT} connections open" in crowded.body
    finally:
        for connection in held:
            connection.close()
    deadline = time.monotonic() + TIMEOUT
    while (answer := exchange(port, get_request("http://pkg.test/simple/"))).status != 200:
        assert time.monotonic() < deadline, answer
        time.sleep(0.05)


def test_no_dns_query_was_made_for_names_from_the_hosts_file(site: Site) -> None:
    asked = {line.split()[1] for line in queries(site.dns)}
    assert not asked & {"pkg.test", "files.pkg.test", "open.example", "rebind.test", "rebind.pkg.test"}
