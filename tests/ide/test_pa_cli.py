"""PythonAnywhere's ``pa`` command line, unmodified, against this server.

``pa`` is what PythonAnywhere's users type in their consoles; it reads the
site, user and token from the environment and only speaks HTTPS, so it runs
through the same TLS front as the client library's tests.
"""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tls_front import TlsFront, client_environment, tls_front_for

PA = str(Path(sys.executable).parent / "pa")


@pytest.fixture(scope="module")
def front(ide_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TlsFront, Path]]:
    with tls_front_for(ide_server.port, tmp_path_factory.mktemp("tls")) as running:
        yield running


class Pa:
    """Runs ``pa`` as one user, the way they would in a terminal."""

    def __init__(self, ide_server, front: tuple[TlsFront, Path], username: str) -> None:
        token = ide_server.cli("user", "token", username).stdout.strip()
        self.env = client_environment(*front, username, token)

    def __call__(self, *args: str, stdin: str | None = None, ok: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([PA, *args], env=self.env, input=stdin, capture_output=True, text=True,
                                timeout=60)
        if ok:
            assert result.returncode == 0, f"pa {' '.join(args)}: {result.stdout}{result.stderr}"
        return result


def test_pa_path_uploads_lists_reads_shares_and_deletes(ide_server, front, tmp_path):
    user = ide_server.add_user("pathuser")
    pa = Pa(ide_server, front, user)
    local = tmp_path / "hello.py"
    local.write_text("print('hello from pa')\n")

    pa("path", "upload", "~/project/hello.py", "-c", str(local))
    assert (ide_server.data_dir / "home" / user / "project" / "hello.py").read_text() == local.read_text()

    listing = pa("path", "get", "~/project").stdout
    assert f"/home/{user}/project:" in listing and "F  hello.py" in listing
    assert pa("path", "get", "~/project/hello.py").stdout == "print('hello from pa')\n\n"
    assert "hello.py" in pa("path", "tree", "~").stdout

    shared = pa("path", "share", "~/project/hello.py", "--porcelain").stdout.strip()
    assert shared.startswith(f"https://127.0.0.1:{front[0].port}/")
    assert pa("path", "share", "~/project/hello.py", "--check", "--porcelain").stdout.strip() == shared

    pa("path", "delete", "~/project/hello.py")
    assert not (ide_server.data_dir / "home" / user / "project" / "hello.py").exists()
    missing = pa("path", "get", "~/project/hello.py", ok=False)
    assert missing.returncode != 0


def test_pa_path_cannot_reach_another_users_files(ide_server, front):
    owner = ide_server.add_user("pathowner")
    Pa(ide_server, front, owner)("path", "upload", "~/secret.txt", "-c", "-", stdin="mine\n")
    pa = Pa(ide_server, front, ide_server.add_user("pathintruder"))
    for path in (f"/home/{owner}/secret.txt", f"/home/{owner}"):
        result = pa("path", "get", path, ok=False)
        assert result.returncode != 0 and "mine" not in result.stdout
    assert pa("path", "delete", f"/home/{owner}/secret.txt", ok=False).returncode != 0
    assert (ide_server.data_dir / "home" / owner / "secret.txt").read_text() == "mine\n"


def test_pa_students_lists_and_removes(ide_server, front):
    teacher = ide_server.add_user("pateacher", account_type="hacker")
    student = ide_server.add_user("pastudent", teacher=teacher)
    pa = Pa(ide_server, front, teacher)
    assert student in pa("students", "get").stdout
    pa("students", "delete", student)
    after = pa("students", "get", ok=False).stdout
    assert student not in after and "don't have any students" in after
    assert student not in ide_server.redis_call("SMEMBERS", f"ide:teacher:{teacher}:students")


def test_pa_schedule_sets_lists_gets_updates_and_deletes(ide_server, front):
    user = ide_server.add_user("pasched", account_type="hacker")
    pa = Pa(ide_server, front, user)
    created = pa("schedule", "set", "--command", "python3 ~/report.py", "--hour", "6", "--minute", "5")
    assert "successfully created" in created.stdout + created.stderr
    tasks = ide_server.redis_call("SMEMBERS", f"ide:user:{user}:tasks")
    assert len(tasks) == 1
    task_id = next(iter(tasks))

    listing = pa("schedule", "list").stdout
    assert "python3 ~/report.py" in listing and "06:05" in listing
    assert pa("schedule", "get", task_id, "--command", "--no-spec").stdout.strip() == "python3 ~/report.py"
    assert pa("schedule", "get", task_id, "--printable-time", "--no-spec").stdout.strip() == "06:05"

    updated = pa("schedule", "update", task_id, "--hourly", "--minute", "30", "--porcelain")
    assert "updated" in updated.stdout + updated.stderr
    assert pa("schedule", "get", task_id, "--printable-time", "--no-spec").stdout.strip() == "*:30"
    pa("schedule", "update", task_id, "--disable")
    assert pa("schedule", "get", task_id, "--enabled", "--no-spec").stdout.strip() == "False"

    pa("schedule", "delete", "id", task_id)
    assert not ide_server.redis_call("SMEMBERS", f"ide:user:{user}:tasks")


def test_pa_schedule_refuses_another_users_task(ide_server, front):
    owner = ide_server.add_user("paowner", account_type="hacker")
    Pa(ide_server, front, owner)("schedule", "set", "--command", "echo mine", "--minute", "1")
    task_id = next(iter(ide_server.redis_call("SMEMBERS", f"ide:user:{owner}:tasks")))
    intruder = Pa(ide_server, front, ide_server.add_user("paother", account_type="hacker"))
    assert intruder("schedule", "get", task_id, ok=False).returncode != 0
    intruder("schedule", "delete", "id", task_id, ok=False)
    assert ide_server.redis_call("SMEMBERS", f"ide:user:{owner}:tasks") == {task_id}
