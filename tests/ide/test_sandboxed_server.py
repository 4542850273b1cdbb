"""The whole server as root with the sandbox on: consoles run as their user's
own uid, in their cgroups and namespaces, and see their home at /home/<name>."""
from __future__ import annotations

import asyncio
import os
import pwd
import subprocess

import pytest

from tests.client import Client
from tests.sandbox.leftovers import TEST_UID_PREFIX, HostSnapshot, cgroup_dir
from tests.server import ServerProcess

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox needs root")


@pytest.fixture(scope="module")
def sandboxed_server(tmp_path_factory):
    base = f"ide-test-srv-{os.getpid()}"
    snapshot = HostSnapshot.take()
    server = ServerProcess(tmp_path_factory.mktemp("sandboxed"), "--sandbox", "full",
                           "--uid-prefix", TEST_UID_PREFIX, "--cgroup-base", base).start()
    server.cgroup_base = base  # type: ignore[attr-defined]
    yield server
    server.stop()
    for entry in pwd.getpwall():
        if entry.pw_name.startswith(TEST_UID_PREFIX + "sbx"):
            subprocess.run(["userdel", entry.pw_name], check=False, capture_output=True)
    assert snapshot.leftovers(base) == []


async def run_in_console(client: Client, name: str, console_id: str, command: str, marker: str) -> str:
    """What ``command`` printed: the lines between its echo and a marker line."""
    typed = f'{command}; echo "{marker}"-done'
    await client.post(f"/api/v0/user/{name}/consoles/{console_id}/send_input/", {"input": typed + "\n"})
    for _ in range(400):
        lines = (await client.get(f"/api/v0/user/{name}/consoles/{console_id}/get_latest_output/")).json()["output"].splitlines()
        if f"{marker}-done" in lines:
            end = lines.index(f"{marker}-done")
            start = max(i for i, line in enumerate(lines[:end]) if line.endswith(typed))
            return "\n".join(lines[start + 1:end])
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {marker} in {lines!r}")


@pytest.mark.gen_test(timeout=120)
async def test_console_runs_as_its_user_in_its_own_namespaces(sandboxed_server):
    name = sandboxed_server.add_user("sbx", account_type="hacker")
    other = sandboxed_server.add_user("sbx")
    client = Client(sandboxed_server.url, token=sandboxed_server.cli("user", "token", name).stdout.strip())
    dashboard = Client(sandboxed_server.url)
    await dashboard.login(name)
    assert "Sandboxing is off" not in (await dashboard.get("/")).text
    console = (await client.post(f"/api/v0/user/{name}/consoles/", {"executable": "bash"})).json()
    assert console["working_directory"] == f"/home/{name}"
    uid = pwd.getpwnam(TEST_UID_PREFIX + name).pw_uid
    assert f"uid={uid}" in await run_in_console(client, name, console["id"], "id", "M1")
    home = await run_in_console(client, name, console["id"], "pwd; echo hi > made-here; ls /home", "M2")
    assert f"/home/{name}" in home and other not in home
    made = sandboxed_server.data_dir / "home" / name / "made-here"
    assert made.read_text() == "hi\n" and made.stat().st_uid == uid
    ps = await run_in_console(client, name, console["id"], "ps -e -o comm= | wc -l", "M3")
    assert int(ps.strip().splitlines()[0]) <= 6
    base = sandboxed_server.cgroup_base  # type: ignore[attr-defined]
    procs = (cgroup_dir("pids", base, "hacker", name) / "cgroup.procs")
    if not procs.exists():
        procs = cgroup_dir("pids", base, name) / "cgroup.procs"
    assert procs.read_text().split(), "the console's processes are not in the user's cgroup"
    assert (await client.delete(f"/api/v0/user/{name}/consoles/{console['id']}/")).status == 204
