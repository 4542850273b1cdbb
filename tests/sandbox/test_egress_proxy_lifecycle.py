"""Starting, stopping and losing Squid: what the owner of an EgressProxy can rely on.

Squid listens on loopback only here and its one resolver is 127.0.0.1, so
nothing these tests do can leave the machine.
"""
from __future__ import annotations

import asyncio
import os
import pwd
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from tempfile import TemporaryDirectory

import psutil
import pytest

from sandbox.network.allow_list import AllowList
from sandbox.network.proxy import EgressProxy, ProxyError
from tests.sandbox.proxy_clients import exchange, free_port, get_request
from tests.sandbox.ptys import run

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="Squid switches to the proxy account only as root")


@pytest.fixture
def root() -> Iterator[Path]:
    with TemporaryDirectory(prefix="egress-life-") as made:
        path = Path(made)
        path.chmod(0o755)
        (path / "hosts").write_text("127.0.0.1 localhost\n")
        yield path


def make_proxy(root: Path, **changes: object) -> EgressProxy:
    settings: dict[str, object] = dict(
        listen_address="127.0.0.1", allow_list_port=free_port(), open_port=free_port(),
        allow_list=AllowList(("pypi.org",)), allowed_cidrs=[], run_dir=root / "run",
        hosts_file=root / "hosts", dns_servers=["127.0.0.1"])
    settings.update(changes)
    return EgressProxy(**settings)  # type: ignore[arg-type]


def accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except OSError:
        return False
    return True


def squids_using(config: Path) -> list[int]:
    return [process.pid for process in psutil.process_iter(["cmdline"])
            if str(config) in (process.info["cmdline"] or [])]


def test_start_opens_both_ports_as_the_proxy_account_and_stop_closes_them(root: Path) -> None:
    proxy = make_proxy(root)

    async def scenario() -> None:
        await proxy.start()
        try:
            assert proxy.running and accepts(proxy.allow_list_port) and accepts(proxy.open_port)
            assert proxy.proxy_url() == f"http://127.0.0.1:{proxy.allow_list_port}"
            assert proxy.pid is not None
            account = pwd.getpwnam("proxy")
            assert psutil.Process(proxy.pid).uids().effective == account.pw_uid
            config = proxy.files.config.stat()
            assert config.st_uid == 0 and not config.st_mode & 0o022
            assert proxy.files.state.stat().st_uid == account.pw_uid
        finally:
            await proxy.stop()
        assert not proxy.running
        assert not accepts(proxy.allow_list_port) and not accepts(proxy.open_port)
        await proxy.stop()

    run(scenario())
    assert squids_using(proxy.files.config) == []


def test_an_ipv6_listen_address_works(root: Path) -> None:
    proxy = make_proxy(root, listen_address="::1", allow_list_port=free_port("::1"), open_port=free_port("::1"))

    async def scenario() -> None:
        await proxy.start()
        try:
            assert proxy.proxy_url() == f"http://[::1]:{proxy.allow_list_port}"
            answer = await asyncio.to_thread(exchange, proxy.open_port, get_request("http://127.0.0.1/"), "::1")
            assert answer.status == 403
        finally:
            await proxy.stop()

    run(scenario())


def test_stop_before_start_does_nothing_and_start_twice_is_refused(root: Path) -> None:
    proxy = make_proxy(root)

    async def scenario() -> None:
        await proxy.stop()
        await proxy.start()
        try:
            with pytest.raises(ProxyError, match="already running"):
                await proxy.start()
        finally:
            await proxy.stop()

    run(scenario())


def test_port_in_use_fails_start_with_squids_reason(root: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    proxy = make_proxy(root, open_port=port)
    try:
        with pytest.raises(ProxyError) as failed:
            run(proxy.start())
    finally:
        taken.close()
    assert f"127.0.0.1:{port}" in str(failed.value) and "Address already in use" in str(failed.value)
    assert not proxy.running
    assert squids_using(proxy.files.config) == []


def test_killed_squid_is_reported_to_the_owner_and_can_be_restarted(root: Path) -> None:
    proxy = make_proxy(root)

    async def scenario() -> None:
        await proxy.start()
        watcher = asyncio.ensure_future(proxy.wait())
        assert proxy.pid is not None
        os.kill(proxy.pid, signal.SIGKILL)
        assert await asyncio.wait_for(watcher, 30) == -signal.SIGKILL
        assert not proxy.running
        await proxy.start()
        try:
            assert accepts(proxy.allow_list_port)
        finally:
            await proxy.stop()
        assert await proxy.wait() == 0

    run(scenario())


def test_squid_left_by_a_server_that_died_is_replaced_on_the_next_start(root: Path) -> None:
    first = make_proxy(root)
    run(first.start())  # its loop ends here without stop(): the server "died"
    leftover = first.pid
    assert leftover is not None and psutil.pid_exists(leftover)
    second = make_proxy(root, allow_list_port=first.allow_list_port, open_port=first.open_port)

    async def scenario() -> None:
        await second.start()
        try:
            assert second.pid != leftover and accepts(second.allow_list_port)
        finally:
            await second.stop()

    try:
        run(scenario())
    finally:
        if psutil.pid_exists(leftover) and squids_using(second.files.config):
            os.kill(leftover, signal.SIGKILL)
    assert squids_using(second.files.config) == []


def test_an_empty_allow_list_refuses_every_name(root: Path) -> None:
    """An operator may give free accounts no sites at all; Squid must still start and refuse by name."""
    proxy = make_proxy(root, allow_list=AllowList(()))

    async def scenario() -> None:
        await proxy.start()
        try:
            answer = await asyncio.to_thread(exchange, proxy.allow_list_port, get_request("http://pypi.org/"))
            assert answer.status == 403 and "pypi.org is not on this server's allow-list" in answer.body
        finally:
            await proxy.stop()

    run(scenario())


@pytest.mark.parametrize(("changes", "complaint"), [
    ({"allowed_cidrs": ["10.1.2.3/8"]}, "not a network in CIDR form"),
    ({"allowed_cidrs": ["mirror.internal"]}, "not a network in CIDR form"),
    ({"listen_address": "localhost"}, "does not appear to be an IPv4 or IPv6 address"),
    ({"listen_address": "0.0.0.0"}, "would open the proxy to every network"),
    ({"listen_address": "::"}, "would open the proxy to every network"),
    ({"hosts_file": Path("/nonexistent/hosts")}, "does not exist"),
    ({"open_port": 0}, "not between 1 and 65535"),
    ({"allow_list_port": 3128, "open_port": 3128}, "must differ"),
])
def test_bad_settings_are_refused_before_anything_starts(root: Path, changes: dict[str, object],
                                                         complaint: str) -> None:
    with pytest.raises(ProxyError, match=complaint):
        make_proxy(root, **changes)


def test_run_dir_the_proxy_account_cannot_enter_is_refused_with_the_reason(root: Path) -> None:
    closed = root / "closed"
    closed.mkdir(mode=0o700)
    proxy = make_proxy(root, run_dir=closed / "run")
    with pytest.raises(ProxyError, match=f"cannot enter {closed}"):
        run(proxy.start())
    assert not proxy.running


def test_wait_before_start_is_refused(root: Path) -> None:
    with pytest.raises(ProxyError, match="never started"):
        run(make_proxy(root).wait())
