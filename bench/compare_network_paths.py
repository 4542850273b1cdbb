"""Users' egress through veth + nftables (ours) against slirp4netns, on this machine.

    sudo .venv/bin/python bench/compare_network_paths.py [--mib 512]

A "sink" namespace of the bench's own plays the internet (203.0.113.200,
routed to it with a /32); a program in a user's namespace sends ``--mib``
MiB to it over TCP, once through our routed veth (forwarded, masqueraded,
filtered by the server's table) and once through slirp4netns (a user-space
TCP/IP stack per namespace, as rootless containers use).  Prints MiB/s and
the per-user process memory slirp4netns needs; no packet leaves the machine.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sandbox.network import NetworkIsolation, NetworkSettings  # noqa: E402

SINK = "203.0.113.200"
PORT = 5001
PREFIX = "idebench-"

_SINK_SERVER = f"""
import socket
server = socket.socket(); server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", {PORT})); server.listen(4)
while True:
    conn, _ = server.accept()
    total = 0
    while data := conn.recv(1 << 20):
        total += len(data)
    conn.sendall(str(total).encode()); conn.close()
"""

_CLIENT = """
import socket, sys, time
mib = int(sys.argv[1]); chunk = b"x" * (1 << 20)
started = time.perf_counter()
conn = socket.create_connection(({sink!r}, {port}), 5)
for _ in range(mib):
    conn.sendall(chunk)
conn.shutdown(socket.SHUT_WR)
assert int(conn.recv(64)) == mib << 20
print(mib / (time.perf_counter() - started))
"""


def sh(*argv: str, check: bool = True) -> str:
    return subprocess.run(argv, check=check, capture_output=True, text=True).stdout


def throughput(namespace: str, mib: int) -> float:
    client = _CLIENT.format(sink=SINK, port=PORT)
    return float(sh("ip", "netns", "exec", namespace, sys.executable, "-c", client, str(mib)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=512)
    parser.add_argument("--pool", default="10.237.0.0/16", help="a pool no server on this machine uses")
    args = parser.parse_args()
    sink, slirp_ns = f"{PREFIX}sink", f"{PREFIX}slirp"
    forwarding = Path("/proc/sys/net/ipv4/ip_forward").read_text()
    network = NetworkIsolation(NetworkSettings(pool=args.pool), uid_prefix=PREFIX, cgroup_base="compare")
    processes: list[subprocess.Popen[bytes]] = []
    try:
        sh("ip", "netns", "add", sink)
        sh("ip", "link", "add", "idebsink", "type", "veth", "peer", "name", "eth0", "netns", sink)
        sh("ip", "addr", "add", "10.236.0.1/32", "dev", "idebsink")
        sh("ip", "link", "set", "idebsink", "up")
        sh("ip", "route", "add", f"{SINK}/32", "dev", "idebsink")
        assert "dev idebsink" in sh("ip", "route", "get", SINK)
        for command in (["link", "set", "lo", "up"], ["link", "set", "eth0", "up"],
                        ["addr", "add", f"{SINK}/32", "dev", "eth0"],
                        ["route", "add", "10.236.0.1/32", "dev", "eth0"],
                        ["route", "add", "default", "via", "10.236.0.1"]):
            sh("ip", "-n", sink, *command)
        processes.append(subprocess.Popen(["ip", "netns", "exec", sink, sys.executable, "-c", _SINK_SERVER]))
        time.sleep(0.5)

        network.start()
        ours = network.network_for(f"{PREFIX}veth", 50001, "hacker")
        veth = throughput(ours.name, args.mib)

        sh("ip", "netns", "add", slirp_ns)
        slirp = subprocess.Popen(["slirp4netns", "--configure", "--mtu=65520", "--disable-host-loopback",
                                  "--netns-type=path", f"/run/netns/{slirp_ns}", "tap0"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(slirp)
        while "tap0" not in sh("ip", "-n", slirp_ns, "-br", "addr"):
            time.sleep(0.05)
        idle_rss = int(sh("ps", "-o", "rss=", "-p", str(slirp.pid)))
        user_space = throughput(slirp_ns, args.mib)
        busy_rss = int(sh("ps", "-o", "rss=", "-p", str(slirp.pid)))
        print(f"| veth + nftables (forwarded, masqueraded) | {veth:.0f} MiB/s | no process per user |")
        print(f"| slirp4netns --mtu=65520 | {user_space:.0f} MiB/s | one process per user: "
              f"{idle_rss} KiB RSS idle, {busy_rss} KiB after the transfer |")
    finally:
        for process in processes:
            process.kill()
            process.wait()
        network.close(set())
        sh("ip", "link", "del", "idebsink", check=False)
        for name in (sink, slirp_ns):
            sh("ip", "netns", "del", name, check=False)
        Path("/proc/sys/net/ipv4/ip_forward").write_text(forwarding)


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit("needs root (network namespaces)")
    main()
