"""The whole server as root with the sandbox on: consoles run as their user's
own uid, in their cgroups and namespaces, and see their home at /home/<name>."""
from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import subprocess
import sys

import pytest

from tests.client import Client
from tests.sandbox.leftovers import TEST_UID_PREFIX, HostSnapshot, cgroup_dir
from tests.sandbox.network_hosts import free_pool
from tests.sandbox.ptys import wait_for
from tests.server import PROXY_DNS, ROOT, ServerProcess, reachable_dir

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox needs root")


@pytest.fixture(scope="module")
def sandboxed_server(tmp_path_factory):
    base = f"ide-test-srv-{os.getpid()}"
    snapshot = HostSnapshot.take()
    data_dir = tmp_path_factory.mktemp("sandboxed")
    # Given relative to the server's working directory, as scripts/serve gives ./data: the
    # child binds the home after it has left that directory.
    server = ServerProcess(data_dir, "--sandbox", "full", "--uid-prefix", TEST_UID_PREFIX,
                           "--cgroup-base", base, "--data-dir", data_dir.name, "--sandbox-network", free_pool(),
                           *PROXY_DNS, cwd=data_dir.parent).start()
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
        answer = await client.get(f"/api/v0/user/{name}/consoles/{console_id}/get_latest_output/")
        lines = answer.json()["output"].splitlines()
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


@pytest.mark.gen_test(timeout=120)
async def test_a_hard_link_to_a_file_the_user_cannot_read_is_never_served(sandboxed_server):
    """The server reads as root: it must not serve a file the home's owner does
    not own, by the API, the pages or a share link (the link is made by the
    test, as root, standing in for whatever a host might allow)."""
    name = sandboxed_server.add_user("sbx")
    api = Client(sandboxed_server.url, token=sandboxed_server.cli("user", "token", name).stdout.strip())
    browser = Client(sandboxed_server.url)
    await browser.login(name)
    files = f"/api/v0/user/{name}/files/"
    assert (await api.put(f"{files}path/home/{name}/shared.txt", {"content": "mine\n"})).status == 201
    share_url = (await api.post(f"{files}sharing/", {"path": f"/home/{name}/shared.txt"})).json()["url"]
    home = sandboxed_server.data_dir / "home" / name
    assert (home / "shared.txt").stat().st_uid == pwd.getpwnam(TEST_UID_PREFIX + name).pw_uid
    assert "mine" in (await browser.get(share_url)).text

    secret = sandboxed_server.data_dir / "root-only-secret"
    secret.write_text("ROOT-SECRET\n")
    secret.chmod(0o600)
    os.link(secret, home / "stolen.txt")
    (home / "shared.txt").unlink()
    os.link(secret, home / "shared.txt")

    answers = [
        await api.get(f"{files}path/home/{name}/stolen.txt"),
        await api.post(f"{files}sharing/", {"path": f"/home/{name}/stolen.txt"}),
        await browser.get(f"/user/{name}/files/home/{name}/stolen.txt?edit"),
        await browser.get(f"/user/{name}/files/home/{name}/stolen.txt"),
        await browser.get(share_url),
    ]
    assert [a.status for a in answers] == [403, 403, 403, 403, 404]
    assert not any("ROOT-SECRET" in a.text for a in answers)
    assert "belongs to another account" in answers[0].json()["detail"]
    assert secret.stat().st_uid == 0  # and nothing gave the file away


def serve_once(*args: str, data_dir) -> subprocess.CompletedProcess[str]:
    """``ide serve`` that is expected to refuse to start."""
    return subprocess.run([sys.executable, "-m", "ide", "serve", "--port", "0", "--data-dir", str(data_dir),
                           "--uid-prefix", TEST_UID_PREFIX, *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_as_root_the_server_refuses_to_start_without_full_isolation(tmp_path):
    missing = serve_once("--cgroup-base", "cgroup.procs/ide", data_dir=tmp_path)  # a group that cannot be made
    assert missing.returncode == 1 and "Listening" not in missing.stdout
    error = missing.stderr.strip().splitlines()
    assert len(error) == 1 and error[0].startswith("ide: error: full isolation is not possible here: "
                                                   "cgroups unusable: cannot create ")
    assert "--unsafe-no-isolation" in error[0]
    for mode in ("off", "rlimits"):
        explicit = serve_once("--sandbox", mode, data_dir=tmp_path)
        assert explicit.returncode == 1 and explicit.stderr.strip() == (
            f"ide: error: --sandbox {mode} runs users' programs without isolation and this server runs "
            "as root: use --sandbox full (or auto), or add --unsafe-no-isolation to run them all as the "
            f"unprivileged account {TEST_UID_PREFIX}all-users")


def test_the_unsafe_flag_comes_from_the_environment_and_needs_reachable_homes(tmp_path):
    # pytest's tmp_path lies in a directory private to root: the shared account could not reach it.
    result = subprocess.run(
        [sys.executable, "-m", "ide", "serve", "--port", "0", "--data-dir", str(tmp_path),
         "--sandbox", "off", "--uid-prefix", TEST_UID_PREFIX],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "IDE_UNSAFE_NO_ISOLATION": "1"})
    subprocess.run(["userdel", TEST_UID_PREFIX + "all-users"], check=False, capture_output=True)
    assert result.returncode == 1 and result.stderr.startswith(
        f"ide: error: programs would run as {TEST_UID_PREFIX}all-users, who cannot reach {tmp_path / 'home'}: ")


@pytest.mark.gen_test(timeout=120)
async def test_isolated_consoles_start_only_in_their_owners_home(sandboxed_server):
    teacher = sandboxed_server.add_user("sbx", account_type="hacker")
    student = sandboxed_server.add_user("sbx", teacher=teacher)
    client = Client(sandboxed_server.url, token=sandboxed_server.cli("user", "token", teacher).stdout.strip())
    student_client = Client(sandboxed_server.url,
                            token=sandboxed_server.cli("user", "token", student).stdout.strip())
    assert (await student_client.put(f"/api/v0/user/{student}/files/path/home/{student}/a.py",
                                     {"content": "x = 1\n"})).status == 201
    refused = await client.post(f"/api/v0/user/{teacher}/consoles/",
                                {"executable": "bash", "working_directory": f"/home/{student}"})
    assert refused.status == 400
    assert refused.json()["detail"].startswith("Consoles here see only their owner's home")
    outside = await client.post(f"/api/v0/user/{teacher}/consoles/",
                                {"executable": "bash", "working_directory": "/proc/1/cwd"})
    assert outside.status == 400 and "must be a directory in your home" in outside.json()["detail"]


@pytest.mark.gen_test(timeout=120)
async def test_with_the_unsafe_flag_programs_run_as_an_unprivileged_account():
    data_dir = reachable_dir("ide-test-unsafe-")
    server = ServerProcess(data_dir, "--unsafe-no-isolation", "--cgroup-base", "cgroup.procs/ide",
                           "--uid-prefix", TEST_UID_PREFIX)
    try:
        server.start()
        assert any("UNSAFE (--unsafe-no-isolation): Sandboxing is off: cgroups unusable" in line
                   for line in server.output)
        name = server.add_user("u", account_type="hacker")
        client = Client(server.url, token=server.cli("user", "token", name).stdout.strip())
        console = (await client.post(f"/api/v0/user/{name}/consoles/", {"executable": "bash"})).json()
        redis_dir = data_dir / "redis"
        seen = await run_in_console(client, name, console["id"], f"id -u; ls {redis_dir} || echo refused", "M1")
        shared = pwd.getpwnam(TEST_UID_PREFIX + "all-users").pw_uid
        assert seen.split()[0] == str(shared) != "0"
        assert "refused" in seen
    finally:
        server.stop()
        shared = TEST_UID_PREFIX + "all-users"
        # userdel refuses while the account's last console is still dying.
        wait_for(lambda: subprocess.run(["userdel", shared], capture_output=True).returncode in (0, 6),
                 f"{shared} to be removable")
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.mark.gen_test(timeout=180)
async def test_an_isolated_console_outlives_a_crash_of_the_server_in_its_own_sandbox(sandboxed_server):
    name = sandboxed_server.add_user("sbx", account_type="hacker")
    token = sandboxed_server.cli("user", "token", name).stdout.strip()
    client = Client(sandboxed_server.url, token=token)
    console = (await client.post(f"/api/v0/user/{name}/consoles/", {"executable": "bash"})).json()
    where = "id -u; grep -E 'pids|memory' /proc/self/cgroup | sort; readlink /proc/self/ns/net /proc/self/ns/pid"
    before = await run_in_console(client, name, console["id"], f"x=kept; {where}", "m1")
    sandboxed_server.crash()
    sandboxed_server.start()
    client = Client(sandboxed_server.url, token=token)
    after = await run_in_console(client, name, console["id"], f"echo $x; {where}", "m2")
    assert after == "kept\n" + before  # the same shell, uid, cgroups and namespaces
    second = (await client.post(f"/api/v0/user/{name}/consoles/", {"executable": "bash"})).json()
    joined = await run_in_console(client, name, second["id"], "readlink /proc/self/ns/net", "m3")
    assert joined == before.splitlines()[-2]  # a new console joins the same network namespace
