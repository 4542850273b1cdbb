"""Path resolution and safety, as a plain class: no server, a real file system."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from ide.files import home_io
from ide.files.errors import BadPath, PathForbidden, PathNotFound
from ide.files.paths import HomePath, PathResolver


@pytest.fixture
def homes(tmp_path: Path) -> Path:
    for name in ("alice", "bob", "teacher", "stud"):
        (tmp_path / name).mkdir()
    return tmp_path


def test_a_path_in_ones_own_home_maps_to_the_host(homes):
    path = PathResolver(homes, "alice", ()).parse("/home/alice//src/./app.py")
    assert path == HomePath("alice", homes / "alice", ("src", "app.py"))
    assert path.visible == "/home/alice/src/app.py"
    assert path.host == homes / "alice" / "src" / "app.py"
    assert PathResolver(homes, "alice", ()).parse("/home/alice/").is_home


@pytest.mark.parametrize("bad", [
    "/home/alice/../bob/secret",
    "/home/alice/a/../../bob",
    "/home/alice/..",
    "/home/alice/%2e%2e/bob",          # still encoded after Tornado's one decoding
    "/home/alice/%2E%2E%2Fbob",
    "/home/alice/..%2fbob",
    "/home/alice/x%5c..%5cy",
    "/home/alice/a%00b",
    "/home/alice/a\0b",
    "home/alice/relative.py",
    "",
    "/home/alice/" + "n" * 256,
    "/home/alice/" + "d/" * 2100,
])
def test_malformed_paths_are_refused_before_touching_the_disk(homes, bad):
    with pytest.raises(BadPath):
        PathResolver(homes, "alice", ()).parse(bad)


def test_a_name_of_255_bytes_is_accepted(homes):
    name = "é" * 127 + "x"  # 255 bytes of UTF-8
    assert PathResolver(homes, "alice", ()).parse(f"/home/alice/{name}").name == name


@pytest.mark.parametrize("outside", ["/etc/passwd", "/", "/home", "/home/bob/notes.txt",
                                     "/home/nobody_here/x", "/home/Alice/x", "/tmp/x"])
def test_paths_outside_reachable_homes_look_missing(homes, outside):
    with pytest.raises(PathNotFound) as error:
        PathResolver(homes, "alice", ()).parse(outside)
    assert "/home/alice/" in str(error.value)


def test_a_teacher_reaches_students_homes_but_a_student_reaches_only_their_own(homes):
    teacher = PathResolver(homes, "teacher", ["stud"])
    assert teacher.parse("/home/stud/hw.py").owner == "stud"
    assert teacher.parse("/home/teacher/x").owner == "teacher"
    student = PathResolver(homes, "stud", ())
    for other in ("/home/teacher/answers.py", "/home/alice/x"):
        with pytest.raises(PathNotFound):
            student.parse(other)


def test_real_follows_symlinks_that_stay_inside_the_home(homes):
    home = homes / "alice"
    (home / "sub").mkdir()
    (home / "sub" / "file.txt").write_text("x")
    os.symlink("sub/file.txt", home / "inside")
    os.symlink(str(home / "sub"), home / "dir_link")
    resolver = PathResolver(homes, "alice", ())
    assert PathResolver.real(resolver.parse("/home/alice/inside")).parts == ("sub", "file.txt")
    assert PathResolver.real(resolver.parse("/home/alice/dir_link/new.py")).parts == ("sub", "new.py")


@pytest.mark.parametrize("target", ["/etc", "/etc/passwd", "{homes}/bob", "{homes}/bob/secret"])
def test_real_refuses_symlinks_leading_outside_the_home_for_reading_and_writing(homes, target):
    os.symlink(target.format(homes=homes), homes / "alice" / "link")
    resolver = PathResolver(homes, "alice", ())
    for visible in ("/home/alice/link", "/home/alice/link/new_file.py", "/home/alice/link/passwd"):
        with pytest.raises(PathForbidden):
            PathResolver.real(resolver.parse(visible))


def test_a_teachers_path_cannot_escape_a_students_home_into_the_teachers(homes):
    os.symlink(str(homes / "teacher"), homes / "stud" / "to_teacher")
    teacher = PathResolver(homes, "teacher", ["stud"])
    with pytest.raises(PathForbidden):
        PathResolver.real(teacher.parse("/home/stud/to_teacher/answers.py"))


def test_without_following_the_last_component_a_symlink_is_itself(homes):
    os.symlink("/etc", homes / "alice" / "etc_link")
    path = PathResolver(homes, "alice", ()).parse("/home/alice/etc_link")
    assert PathResolver.real(path, follow_final=False).parts == ("etc_link",)


def test_walking_refuses_a_symlink_swapped_in_after_resolution(homes):
    home = homes / "alice"
    (home / "d").mkdir()
    resolved = PathResolver.real(PathResolver(homes, "alice", ()).parse("/home/alice/d/x.txt"))
    (home / "d").rmdir()
    os.symlink("/etc", home / "d")  # a racing program replaces the directory
    with pytest.raises(PathForbidden):
        home_io.read_file(resolved, 1000, None)
    with pytest.raises(PathForbidden):
        with home_io.open_directory(resolved.parent, create=True):
            pass
    assert not Path("/etc/x.txt").exists()
