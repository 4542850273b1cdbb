"""PythonAnywhere's own client library, unmodified, against this server.

``pythonanywhere_core`` only speaks HTTPS to ``https://$PYTHONANYWHERE_SITE``,
so the test puts a small TLS front (a self-signed certificate for 127.0.0.1,
trusted through ``REQUESTS_CA_BUNDLE``) before the real server, as a
deployment's proxy would be.
"""
from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server import ROOT
from tests.tls_front import TlsFront, client_environment, tls_front_for


@pytest.fixture(scope="module")
def tls_front(ide_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TlsFront, Path]]:
    with tls_front_for(ide_server.port, tmp_path_factory.mktemp("tls")) as front:
        yield front


CLIENT = """
import json, sys
from pythonanywhere_core.students import StudentsAPI
api = StudentsAPI()
listed = api.get()
removed = api.delete(sys.argv[1])
try:
    api.delete("nosuchuser_x9")
    missing = "deleted?"
except Exception as exc:
    missing = str(exc)
print(json.dumps({"listed": listed, "removed": removed, "missing": missing, "url": api.base_url}))
"""


def test_the_students_client_lists_and_removes_a_student(ide_server, tls_front):
    front, cert = tls_front
    teacher = ide_server.add_user("teach", account_type="hacker")
    student = ide_server.add_user("kid", teacher=teacher)
    token = ide_server.cli("user", "token", teacher).stdout.strip()
    env = client_environment(front, cert, teacher, token)
    result = subprocess.run([sys.executable, "-c", CLIENT, student], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["url"] == f"https://127.0.0.1:{front.port}/api/v0/user/{teacher}/students/"
    assert {"username": student} in answer["listed"]["students"] + answer["listed"].get("pending", [])
    assert answer["removed"] == 204
    assert "not one of your students" in answer["missing"]
    assert student not in ide_server.redis_call("SMEMBERS", f"ide:teacher:{teacher}:students")


FILES_CLIENT = """
import json, sys
from pythonanywhere_core.files import Files
home = sys.argv[1]
api = Files()
answer = {"uploaded": api.path_post(home + "/notes/todo.txt", b"buy milk\\n"),
          "replaced": api.path_post(home + "/notes/todo.txt", b"buy bread\\n")}
answer["content"] = api.path_get(home + "/notes/todo.txt").decode()
answer["listing"] = sorted(api.path_get(home + "/notes"))
answer["tree"] = api.tree_get(home + "/notes")
message, url = api.sharing_post(home + "/notes/todo.txt")
answer["shared"], answer["share_url"] = message, url
answer["sharing_get"] = api.sharing_get(home + "/notes/todo.txt")
answer["unshared"] = api.sharing_delete(home + "/notes/todo.txt")
answer["deleted"] = api.path_delete(home + "/notes/todo.txt")
for attempt in ("/etc/passwd", home + "/../other/secret.txt"):
    try:
        api.path_get(attempt)
        answer[attempt] = "read!"
    except Exception as exc:
        answer[attempt] = str(exc)
print(json.dumps(answer))
"""


def test_the_files_client_uploads_reads_shares_and_deletes(ide_server, tls_front):
    front, cert = tls_front
    user = ide_server.add_user("filer")
    token = ide_server.cli("user", "token", user).stdout.strip()
    home = f"/home/{user}"
    result = subprocess.run([sys.executable, "-c", FILES_CLIENT, home], cwd=ROOT,
                            env=client_environment(front, cert, user, token),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert (answer["uploaded"], answer["replaced"]) == (201, 200)
    assert answer["content"] == "buy bread\n"
    assert answer["listing"] == ["todo.txt"]
    assert answer["tree"] == [f"{home}/notes/todo.txt"]
    assert answer["share_url"].startswith(f"https://127.0.0.1:{front.port}/")
    assert answer["sharing_get"] == answer["share_url"]
    assert (answer["unshared"], answer["deleted"]) == (204, 204)
    assert "403" in answer["/etc/passwd"] or "404" in answer["/etc/passwd"]
    assert "read!" not in answer[f"{home}/../other/secret.txt"]
