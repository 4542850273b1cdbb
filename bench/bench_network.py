"""What the egress proxy costs: a large download's throughput and a connection's set-up time.

    .venv/bin/python bench/bench_network.py [--megabytes 200] [--rounds 5] [--setups 50]

A test host in a network namespace of the benchmark's own serves N zero bytes
over HTTP (Python's http.server) and HTTPS; curl on the node fetches them by
each route in ``ROUTES``, in alternating rounds so that noise from the machine
falls on every route alike. Routes:

- ``direct``: curl on the node straight to the host's address;
- ``open port``: curl on the node through the proxy's open port (Squid as the
  ``proxy`` account, exactly as ``EgressProxy`` runs it).

Each route is a function giving the argv prefix and curl options, so a route
from inside a user's network namespace is one more entry. Reported: median
throughput of the large download and its ratio to ``direct``; median set-up
time to the first byte of a 1-byte answer over plain HTTP and over HTTPS
(CONNECT through the proxy); Squid's resident memory before and at its peak
during the large downloads (flat means it streams rather than buffers).
Needs root (namespaces, veth pair).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sandbox.network.allow_list import AllowList  # noqa: E402
from sandbox.network.proxy import EgressProxy  # noqa: E402
from tests.sandbox.netns import LoopThread, ScratchNetwork, make_certificate  # noqa: E402
from tests.sandbox.proxy_clients import RssPeak, free_port  # noqa: E402

MIB = 1024 * 1024


@dataclass(frozen=True)
class Setup:
    network: ScratchNetwork
    proxy: EgressProxy
    ca: Path


Route = Callable[[Setup], list[str]]
"""The start of a curl command line for one route (wrapper, curl and its proxy options)."""

ROUTES: dict[str, Route] = {
    "direct": lambda setup: ["curl", "--noproxy", "*"],
    "open port": lambda setup: ["curl", "--noproxy", "", "-x", setup.proxy.open_url()],
}


def fetch(setup: Setup, route: Route, url: str) -> dict[str, float]:
    """curl's own timings (seconds) and speed (bytes/s) for one fetch of ``url``."""
    # --resolve: curl never asks a resolver (the proxy routes resolve bench.test from Squid's hosts file).
    argv = [*route(setup), "-q", "-sS", "-o", "/dev/null", "--cacert", str(setup.ca),
            "--resolve", f"bench.test:443:{setup.network.host_address}", "-w",
            "%{time_connect} %{time_appconnect} %{time_starttransfer} %{time_total} %{speed_download}"
            " %{size_download} %{http_code}", url]
    fields = subprocess.run(argv, check=True, capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin"}).stdout.split()
    names = ["connect", "tls", "first_byte", "total", "speed", "size", "status"]
    result = dict(zip(names, map(float, fields), strict=True))
    assert result["status"] == 200, f"{url} by {argv[:6]}: HTTP {result['status']:.0f}"
    return result


def measure(setup: Setup, megabytes: int, rounds: int, setups: int) -> list[tuple[str, str]]:
    host = setup.network.host_address
    big = f"http://{host}/bytes/{megabytes * MIB}"
    speeds: dict[str, list[float]] = {name: [] for name in ROUTES}
    plain: dict[str, list[float]] = {name: [] for name in ROUTES}
    tls: dict[str, list[float]] = {name: [] for name in ROUTES}
    assert setup.proxy.pid is not None
    rss_before = psutil.Process(setup.proxy.pid).memory_info().rss
    sampler = RssPeak(setup.proxy.pid)
    for _ in range(rounds):
        for name, route in ROUTES.items():
            result = fetch(setup, route, big)
            assert result["size"] == megabytes * MIB
            speeds[name].append(result["speed"])
    rss_peak = sampler.stop()
    for _ in range(setups):
        for name, route in ROUTES.items():
            plain[name].append(fetch(setup, route, f"http://{host}/bytes/1")["first_byte"])
            tls[name].append(fetch(setup, route, "https://bench.test/bytes/1")["first_byte"])
    direct_speed = statistics.median(speeds["direct"])
    rows = []
    for name in ROUTES:
        speed = statistics.median(speeds[name])
        rows.append((f"{megabytes} MB download, {name}: throughput (median of {rounds})",
                     f"{speed / MIB:.0f} MB/s ({speed / direct_speed:.2f} of direct)"))
    for name in ROUTES:
        rows.append((f"set-up to first byte, plain HTTP, {name} (median of {setups})",
                     f"{statistics.median(plain[name]) * 1000:.2f} ms"))
        rows.append((f"set-up to first byte, HTTPS, {name} (median of {setups})",
                     f"{statistics.median(tls[name]) * 1000:.2f} ms"))
    rows.append((f"Squid resident memory before / peak during the {megabytes} MB downloads",
                 f"{rss_before / MIB:.1f} MB / {rss_peak / MIB:.1f} MB"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--megabytes", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--setups", type=int, default=50)
    arguments = parser.parse_args()
    with ExitStack() as cleanup:
        root = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="bench-network-")))
        root.chmod(0o755)
        loop = LoopThread()
        cleanup.callback(loop.close)
        network = ScratchNetwork.create()
        cleanup.callback(network.destroy)
        (root / "www").mkdir()
        cert, key = make_certificate(root, ["bench.test"], network.host_address)
        network.start_host("web", "--directory", str(root / "www"), "--tls-cert", str(cert), "--tls-key", str(key))
        network.start_host("dns", "--address", network.host_address)
        (root / "hosts").write_text(f"127.0.0.1 localhost\n{network.host_address} bench.test\n")
        proxy = EgressProxy(listen_address="127.0.0.1", allow_list_port=free_port(), open_port=free_port(),
                            allow_list=AllowList(("bench.test",)), allowed_cidrs=[network.subnet],
                            run_dir=root / "proxy", hosts_file=root / "hosts", dns_servers=[network.host_address])
        loop.call(proxy.start())
        cleanup.callback(lambda: loop.call(proxy.stop()))
        rows = measure(Setup(network, proxy, cert), arguments.megabytes, arguments.rounds, arguments.setups)
    width = max(len(label) for label, _ in rows)
    print(f"| {'measure'.ljust(width)} | value |\n|{'-' * (width + 2)}|---:|")
    for label, value in rows:
        print(f"| {label.ljust(width)} | {value} |")


if __name__ == "__main__":
    main()
