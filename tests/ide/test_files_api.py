"""The files API through the real server: PythonAnywhere's endpoints, the
editor's save with conflicts, uploads and their limits, bad paths, teachers."""
from __future__ import annotations

import asyncio
import ctypes
import os
import secrets
import stat
import threading
from pathlib import Path

import pytest
from tornado.httpclient import AsyncHTTPClient

from tests.client import Client, Response
from tests.server import ServerProcess

BOUNDARY = "----files-test-boundary"


def multipart(*parts: tuple[str, str, bytes]) -> bytes:
    body = b""
    for field, filename, data in parts:
        body += (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; "
                 f"filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
        body += data + b"\r\n"
    return body + f"--{BOUNDARY}--\r\n".encode()


class Caller:
    """One user with an API token, and where their files live on the host."""

    def __init__(self, server: ServerProcess, name: str, token: str | None = None) -> None:
        self.name = name
        self.client = Client(server.url, token=token or server.cli("user", "token", name).stdout.strip())
        self.home = Path(server.data_dir) / "home" / name
        self.api = f"/api/v0/user/{name}/"

    def files(self, path: str) -> str:
        return f"{self.api}files/path{path}"

    async def upload(self, path: str, data: bytes, *parts: tuple[str, str, bytes]) -> Response:
        return await self.client.post(self.files(path), raw_body=multipart(*(parts or [("content", "x", data)])),
                                      headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})

    async def save(self, path: str, text: str, etag: str | None = None) -> Response:
        return await self.client.put(self.files(path), {"content": text},
                                     headers={"If-Match": etag} if etag else None)


@pytest.fixture
def alice(ide_server) -> Caller:
    return Caller(ide_server, ide_server.add_user("alice"))


@pytest.fixture
def bob(ide_server) -> Caller:
    return Caller(ide_server, ide_server.add_user("bob"))


@pytest.mark.gen_test(timeout=60)
async def test_upload_read_list_tree_and_delete_like_pythonanywhere(ide_server, alice):
    home = f"/home/{alice.name}"
    created = await alice.upload(f"{home}/new/dir/hello.py", b"print('hello')\n")
    assert created.status == 201, created.text
    assert (await alice.upload(f"{home}/new/dir/hello.py", b"print('again')\n")).status == 200
    read = await alice.client.get(alice.files(f"{home}/new/dir/hello.py"))
    assert read.status == 200 and read.body == b"print('again')\n"
    assert read.headers["Content-Type"].startswith("text/plain")
    assert "application/json" not in read.headers["Content-Type"]
    assert read.headers["ETag"].strip('"') and "sandbox" in read.headers["Content-Security-Policy"]
    await alice.upload(f"{home}/new/data.json", b'{"a": 1}')
    json_file = await alice.client.get(alice.files(f"{home}/new/data.json"))
    assert json_file.body == b'{"a": 1}' and "application/json" not in json_file.headers["Content-Type"]
    listing = await alice.client.get(alice.files(f"{home}/new/"))
    assert listing.status == 200 and listing.headers["Content-Type"].startswith("application/json")
    assert listing.json() == {
        "dir": {"type": "directory", "url": f"{ide_server.url}{alice.files(home + '/new/dir')}/"},
        "data.json": {"type": "file", "url": f"{ide_server.url}{alice.files(home + '/new/data.json')}"},
    }
    tree = await alice.client.get(f"{alice.api}files/tree/?path={home}/new")
    assert tree.json() == [f"{home}/new/data.json", f"{home}/new/dir/", f"{home}/new/dir/hello.py"]
    assert (await alice.client.get(f"{alice.api}files/tree/?path={home}/new/data.json")).status == 400
    assert (await alice.client.delete(alice.files(f"{home}/new"))).status == 204
    assert not (alice.home / "new").exists()
    assert (await alice.client.get(alice.files(f"{home}/new/data.json"))).status == 404
    assert (await alice.client.delete(alice.files(f"{home}/new"))).status == 404
    assert (await alice.client.delete(alice.files(home))).status == 403


@pytest.mark.gen_test(timeout=60)
async def test_the_tree_stops_at_1000_entries(alice):
    many = alice.home / "many"
    many.mkdir(parents=True)
    for number in range(1100):
        (many / f"f{number:04}").touch()
    tree = (await alice.client.get(f"{alice.api}files/tree/?path=/home/{alice.name}/many/")).json()
    assert len(tree) == 1000 and tree[0] == f"/home/{alice.name}/many/f0000"


@pytest.mark.gen_test(timeout=60)
async def test_several_files_upload_into_a_directory_in_one_request(alice):
    response = await alice.upload(f"/home/{alice.name}/up/", b"", ("files", "one.txt", b"1"),
                                  ("files", "two.txt", b"22"))
    assert response.status == 201, response.text
    assert [f["path"] for f in response.json()["files"]] == [f"/home/{alice.name}/up/one.txt",
                                                            f"/home/{alice.name}/up/two.txt"]
    assert sorted(os.listdir(alice.home / "up")) == ["one.txt", "two.txt"]


@pytest.mark.gen_test(timeout=60)
async def test_the_editor_saves_with_etags_and_conflicts(alice):
    path = f"/home/{alice.name}/edit.py"
    created = await alice.save(path, "x = 1\n")
    assert created.status == 201 and created.json()["created"] is True
    etag = created.headers["ETag"]
    assert created.json()["etag"] == etag
    assert (await alice.client.get(alice.files(path))).headers["ETag"] == etag
    saved = await alice.save(path, "x = 2\n", etag)
    assert saved.status == 200 and saved.headers["ETag"] != etag
    stale = await alice.save(path, "x = 3\n", etag)
    assert stale.status == 409 and "changed on disk" in stale.json()["detail"]
    assert (alice.home / "edit.py").read_text() == "x = 2\n"
    assert (await alice.save(path, "x = 3\n")).status == 200  # overwrite: no If-Match
    assert (await alice.save(path, "x = 4\n", saved.headers["ETag"].strip('"'))).status == 409
    bad = await alice.client.put(alice.files(path), {"text": "wrong field"})
    assert bad.status == 400 and "content" in bad.json()["detail"]


@pytest.mark.gen_test(timeout=60)
async def test_two_racing_saves_of_one_version_one_wins_the_file_stays_whole(alice):
    path = f"/home/{alice.name}/race.py"
    etag = (await alice.save(path, "start\n")).headers["ETag"]
    os.chmod(alice.home / "race.py", 0o700)
    texts = ["A" * 300_000 + "\n", "B" * 300_000 + "\n"]
    responses = await asyncio.gather(*(alice.save(path, text, etag) for text in texts))
    assert sorted(r.status for r in responses) == [200, 409]
    winner = texts[[r.status for r in responses].index(200)]
    assert (alice.home / "race.py").read_text() == winner
    assert os.listdir(alice.home) == ["race.py"]  # no temp file left behind
    assert stat.S_IMODE((alice.home / "race.py").stat().st_mode) == 0o700


@pytest.mark.gen_test(timeout=60)
async def test_invalid_utf8_survives_a_read_and_a_lossy_save_replaces_it(alice):
    path = f"/home/{alice.name}/latin1.txt"
    await alice.upload(path, b"caf\xe9\n")
    assert (await alice.client.get(alice.files(path))).body == b"caf\xe9\n"
    saved = await alice.save(path, "caf\ufffd\n", (await alice.client.get(alice.files(path))).headers["ETag"])
    assert saved.status == 200
    assert (alice.home / "latin1.txt").read_bytes() == "caf\ufffd\n".encode()


@pytest.mark.gen_test(timeout=60)
async def test_files_over_the_editor_limit_download_whole_without_an_etag(alice):
    alice.home.mkdir(parents=True, exist_ok=True)
    (alice.home / "big.log").write_bytes(b"0123456789" * 600_000)
    response = await alice.client.get(alice.files(f"/home/{alice.name}/big.log"))
    assert response.status == 200 and len(response.body) == 6_000_000 and "ETag" not in response.headers
    assert (await alice.save(f"/home/{alice.name}/huge.txt", "x" * (5 * 1024 * 1024 + 1))).status == 413


@pytest.mark.gen_test(timeout=120)
async def test_an_upload_over_the_size_limit_gets_413_and_leaves_nothing(ide_server, alice):
    size = 101 * 1024 * 1024

    async def endless_body(write):
        await write(b"x" * 65536)  # the server answers before asking for the body

    response = await AsyncHTTPClient().fetch(
        ide_server.url + alice.files(f"/home/{alice.name}/uploads/huge.bin"), method="POST",
        headers={"Authorization": f"Token {alice.client.token}", "Content-Length": str(size),
                 "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
        body_producer=endless_body, expect_100_continue=True, raise_error=False, request_timeout=60)
    assert response.code == 413
    assert "100 MB" in response.body.decode()
    assert not alice.home.exists() or os.listdir(alice.home) == []


@pytest.mark.gen_test(timeout=60)
async def test_an_upload_cut_off_by_the_client_leaves_nothing(ide_server, alice):
    alice.home.mkdir(parents=True, exist_ok=True)
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"content\"; filename=\"x\"\r\n\r\n").encode()
    port = int(ide_server.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write((f"POST {alice.files(f'/home/{alice.name}/cut.bin')} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  f"Authorization: Token {alice.client.token}\r\nContent-Length: {10 * 1024 * 1024}\r\n"
                  f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n\r\n").encode()
                 + head + b"z" * 300_000)
    await writer.drain()
    await until(lambda: any(name.endswith(".part") for name in os.listdir(alice.home)), "the temp file")
    writer.close()
    await until(lambda: os.listdir(alice.home) == [], "the temp file to be removed")


async def until(condition, what: str, timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"waited in vain for {what}"
        await asyncio.sleep(0.05)


@pytest.mark.gen_test(timeout=60)
async def test_writes_past_the_quota_are_refused_with_a_message(ide_server):
    free = Caller(ide_server, ide_server.add_user("free", account_type="free"))
    free.home.mkdir(parents=True, exist_ok=True)
    with open(free.home / "filler.bin", "wb") as filler:
        filler.truncate(512 * 1024 * 1024 - 10)  # sparse: counts its size, costs no disk
    refused = await free.save(f"/home/{free.name}/more.txt", "x" * 100)
    assert refused.status == 507 and "quota" in refused.json()["detail"]
    upload = await free.upload(f"/home/{free.name}/more.bin", b"y" * 100)
    assert upload.status == 507 and "nothing was saved" in upload.json()["detail"]
    assert (await free.save(f"/home/{free.name}/tiny.txt", "x" * 5)).status == 201
    assert sorted(os.listdir(free.home)) == ["filler.bin", "tiny.txt"]


@pytest.mark.gen_test(timeout=60)
async def test_rename_mkdir_and_their_refusals(alice):
    home = f"/home/{alice.name}"
    made = await alice.client.post(f"{alice.api}files/mkdir/", {"path": f"{home}/a/b"})
    assert made.status == 201 and made.json() == {"path": f"{home}/a/b/"}
    assert (await alice.client.post(f"{alice.api}files/mkdir/", {"path": f"{home}/a/b"})).status == 200
    await alice.save(f"{home}/a/one.py", "1")
    await alice.save(f"{home}/a/two.py", "2")
    assert (await alice.client.post(f"{alice.api}files/mkdir/", {"path": f"{home}/a/one.py"})).status == 409
    clash = await alice.client.post(f"{alice.api}files/rename/", {"from": f"{home}/a/one.py", "to": f"{home}/a/two.py"})
    assert clash.status == 409 and "overwrite" in clash.json()["detail"]
    moved = await alice.client.post(f"{alice.api}files/rename/",
                                    {"from": f"{home}/a/one.py", "to": f"{home}/a/b/uno.py"})
    assert moved.status == 200 and moved.json() == {"path": f"{home}/a/b/uno.py"}
    replaced = await alice.client.post(f"{alice.api}files/rename/",
                                       {"from": f"{home}/a/b/uno.py", "to": f"{home}/a/two.py", "overwrite": True})
    assert replaced.status == 200 and (alice.home / "a" / "two.py").read_text() == "1"
    into_itself = await alice.client.post(f"{alice.api}files/rename/", {"from": f"{home}/a", "to": f"{home}/a/b/a"})
    assert into_itself.status == 400
    missing = await alice.client.post(f"{alice.api}files/rename/", {"from": f"{home}/nope", "to": f"{home}/x"})
    assert missing.status == 404


BAD_PATHS = [
    ("/home/{me}/../{other}/secret.txt", 400),
    ("/home/{me}/%2e%2e/{other}/secret.txt", 400),
    ("/home/{me}/%252e%252e/{other}/secret.txt", 400),
    ("/home/{me}/..%2f{other}%2fsecret.txt", 400),
    ("/home/{me}/%2e%2e%2f%2e%2e%2fetc%2fpasswd", 400),
    ("/home/{me}/nul%00byte", 400),
    ("/home/{me}/" + "n" * 256, 400),
    ("/home/{me}/" + "deep/" * 820 + "x", 400),
    ("/etc/passwd", 404),
    ("/home/{other}/secret.txt", 404),
    ("/home/{other}/", 404),
    ("/home/nosuchuser/x", 404),
]


@pytest.fixture(scope="module")
def two_accounts(ide_server) -> list[tuple[str, str]]:
    """(name, token) of two users shared by the bad-path cases (making accounts takes a while)."""
    names = [ide_server.add_user("alice"), ide_server.add_user("bob")]
    return [(name, ide_server.cli("user", "token", name).stdout.strip()) for name in names]


@pytest.mark.gen_test(timeout=60)
@pytest.mark.parametrize("template, status", BAD_PATHS)
async def test_bad_paths_are_refused_for_every_method(ide_server, two_accounts, template, status):
    alice, bob = (Caller(ide_server, name, token) for name, token in two_accounts)
    await bob.save(f"/home/{bob.name}/secret.txt", "bob's secret")
    path = template.format(me=alice.name, other=bob.name)
    for response in (await alice.client.get(alice.files(path)),
                     await alice.save(path, "overwritten"),
                     await alice.upload(path, b"overwritten"),
                     await alice.client.delete(alice.files(path))):
        assert response.status == status, (response.raw.request.method, path, response.text)
        assert response.json()["detail"]
    assert (bob.home / "secret.txt").read_text() == "bob's secret"
    tree = await alice.client.get(f"{alice.api}files/tree/?path={path}")
    assert tree.status == status


@pytest.mark.gen_test(timeout=60)
async def test_another_users_files_through_their_url_are_forbidden(alice, bob):
    await bob.save(f"/home/{bob.name}/secret.txt", "s")
    response = await alice.client.get(f"/api/v0/user/{bob.name}/files/path/home/{bob.name}/secret.txt")
    assert response.status == 403
    assert (await Client(alice.client.base_url).get(bob.files(f"/home/{bob.name}/secret.txt"))).status == 401


@pytest.mark.gen_test(timeout=60)
async def test_symlinks_out_of_the_home_are_refused_for_reading_and_writing(alice, bob):
    await bob.save(f"/home/{bob.name}/secret.txt", "bob's secret")
    await alice.save(f"/home/{alice.name}/inside/real.txt", "mine")
    os.symlink("/etc", alice.home / "etc_link")
    os.symlink("/etc/passwd", alice.home / "passwd_link")
    os.symlink(str(bob.home), alice.home / "bob_link")
    os.symlink("inside/real.txt", alice.home / "ok_link")
    home = f"/home/{alice.name}"
    assert (await alice.client.get(alice.files(f"{home}/ok_link"))).body == b"mine"
    stray = f"written-through-{secrets.token_hex(4)}"
    try:
        for path in (f"{home}/passwd_link", f"{home}/etc_link/passwd", f"{home}/etc_link/{stray}",
                     f"{home}/bob_link/secret.txt", f"{home}/bob_link/{stray}"):
            for response in (await alice.client.get(alice.files(path)), await alice.save(path, "x"),
                             await alice.upload(path, b"x"),
                             await alice.client.post(f"{alice.api}files/sharing/", {"path": path})):
                assert response.status == 403, (path, response.raw.request.method, response.text)
                assert "outside" in response.json()["detail"]
        assert (await alice.client.get(f"{alice.api}files/tree/?path={home}/etc_link")).status == 403
        assert (await alice.client.delete(alice.files(f"{home}/etc_link/passwd"))).status == 403
        moved = await alice.client.post(f"{alice.api}files/rename/",
                                        {"from": f"{home}/bob_link/secret.txt", "to": f"{home}/stolen.txt"})
        assert moved.status == 403
    finally:
        for leftover in (Path("/etc") / stray, bob.home / stray):
            assert not leftover.exists()
    assert (bob.home / "secret.txt").read_text() == "bob's secret"
    assert (await alice.client.delete(alice.files(f"{home}/etc_link"))).status == 204  # the link itself
    assert Path("/etc/passwd").exists() and not (alice.home / "etc_link").exists()


@pytest.mark.gen_test(timeout=60)
async def test_a_teacher_reads_and_writes_a_students_files_other_students_cannot(ide_server):
    teacher = Caller(ide_server, ide_server.add_user("teach"))
    student = Caller(ide_server, ide_server.add_user("stud", teacher=teacher.name))
    classmate = Caller(ide_server, ide_server.add_user("stud", teacher=teacher.name))
    await student.save(f"/home/{student.name}/hw.py", "print('homework')\n")
    path = f"/home/{student.name}/hw.py"
    read = await teacher.client.get(teacher.files(path))
    assert read.status == 200 and read.body == b"print('homework')\n"
    assert (await teacher.save(path, "print('corrected')\n", read.headers["ETag"])).status == 200
    assert (student.home / "hw.py").read_text() == "print('corrected')\n"
    assert (await teacher.upload(f"/home/{student.name}/notes/feedback.txt", b"good")).status == 201
    tree = (await teacher.client.get(f"{teacher.api}files/tree/?path=/home/{student.name}")).json()
    assert f"/home/{student.name}/notes/feedback.txt" in tree
    assert (await classmate.client.get(classmate.files(path))).status == 404
    assert (await classmate.save(path, "vandalised")).status == 404
    assert (await classmate.client.get(f"/api/v0/user/{teacher.name}/files/path{path}")).status == 403
    assert (await student.client.get(student.files(f"/home/{teacher.name}/"))).status == 404
    assert (student.home / "hw.py").read_text() == "print('corrected')\n"


@pytest.mark.gen_test(timeout=60)
async def test_share_links_via_the_api(alice, bob):
    path = f"/home/{alice.name}/shared.py"
    await alice.save(path, "print('shared')\n")
    created = await alice.client.post(f"{alice.api}files/sharing/", {"path": path})
    assert created.status == 201
    url = created.json()["url"]
    assert url.startswith(f"/user/{alice.name}/shares/") and len(url.split("/")[-2]) >= 32
    again = await alice.client.post(f"{alice.api}files/sharing/", {"path": path})
    assert again.status == 200 and again.json() == {"url": url}
    as_form = await alice.client.post(f"{alice.api}files/sharing/", form={"path": path})
    assert as_form.status == 200 and as_form.json() == {"url": url}
    assert (await alice.client.get(f"{alice.api}files/sharing/?path={path}")).json() == {"url": url}
    assert (await bob.client.post(f"{bob.api}files/sharing/", {"path": path})).status == 404
    assert (await alice.client.post(f"{alice.api}files/sharing/", {"path": f"/home/{alice.name}/"})).status == 400
    assert (await alice.client.post(f"{alice.api}files/sharing/", {"path": f"/home/{alice.name}/no.py"})).status == 404
    assert (await alice.client.delete(f"{alice.api}files/sharing/?path={path}")).status == 204
    assert (await alice.client.get(f"{alice.api}files/sharing/?path={path}")).status == 404
    assert (await alice.client.delete(f"{alice.api}files/sharing/?path={path}")).status == 404
    assert (await alice.client.get(f"{alice.api}files/sharing/?path=")).status == 400
    assert (await alice.client.get(f"{alice.api}files/sharing/")).json() == {"shares": []}


_libc = ctypes.CDLL(None, use_errno=True)
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


class SymlinkSwapper:
    """A thread exchanging ``name`` (a symlink) with a plain file, atomically and
    as fast as it can, as a user's program racing the server would."""

    def __init__(self, home: Path, name: str) -> None:
        self.link = bytes(home / name)
        self.spare = bytes(home / f".{name}.spare")
        os.symlink("target.txt", self.link)
        Path(os.fsdecode(self.spare)).write_text("a plain file\n")
        owner = home.stat()
        for path in (self.link, self.spare):
            os.chown(path, owner.st_uid, owner.st_gid, follow_symlinks=False)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.flips = 0

    def _run(self) -> None:
        while not self.stop.is_set():
            if _libc.renameat2(_AT_FDCWD, self.link, _AT_FDCWD, self.spare, _RENAME_EXCHANGE) != 0:
                return  # a request renamed the link away: nothing left to flip
            self.flips += 1

    def __enter__(self) -> SymlinkSwapper:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


@pytest.mark.gen_test(timeout=180)
async def test_a_symlink_swapped_while_requests_resolve_it_gives_4xx_never_500(ide_server, alice):
    home = f"/home/{alice.name}"
    assert (await alice.save(f"{home}/target.txt", "target\n")).status == 201
    os.symlink("flip", alice.home / "via")  # a chain: realpath reads the flipping link mid-way too
    page = Client(ide_server.url)
    await page.login(alice.name)
    requests = [
        lambda path: alice.client.get(alice.files(path)),
        lambda path: alice.save(path, "saved\n"),
        lambda path: alice.upload(path, b"uploaded\n"),
        lambda path: alice.client.post(f"{alice.api}files/sharing/", {"path": path}),
        lambda path: alice.client.get(f"{alice.api}files/tree/?path={path}"),
        lambda path: page.get(f"/user/{alice.name}/files{path}?edit"),
        lambda path: page.get(f"/user/{alice.name}/files{home}/"),
        lambda path: alice.client.post(f"/api/v0/user/{alice.name}/consoles/",
                                       {"executable": "true", "working_directory": path}),
    ]
    logged = len(ide_server.output)
    statuses = []
    with SymlinkSwapper(alice.home, "flip") as swapper:
        for _ in range(60):
            for request in requests:
                for path in (f"{home}/flip", f"{home}/via"):
                    statuses.append((await request(path)).status)
    assert swapper.flips > 10000
    assert all(status < 500 for status in statuses), sorted(set(statuses))
    log = "".join(ide_server.output[logged:])
    assert "Traceback" not in log and " 500 " not in log, log
