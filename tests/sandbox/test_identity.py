"""Unix accounts, homes and file ownership for users."""
from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest

from sandbox import Sandbox
from sandbox.unix_users import MAX_UNIX_NAME, unix_name
from tests.sandbox.conftest import UserFactory, needs_root
from tests.sandbox.leftovers import TEST_UID_PREFIX
from tests.sandbox.ptys import run


def test_unix_names_fit_and_never_collide() -> None:
    assert unix_name("ide-", "alice") == "ide-alice"
    longest = "a" * 28
    assert unix_name("ide-", longest) == "ide-" + longest
    cut = unix_name("ide-", "b" * 30)
    assert len(cut) == MAX_UNIX_NAME and "-" in cut[4:]
    assert cut != unix_name("ide-", "b" * 29)
    assert unix_name("ide-", "b" * 30) == cut


@needs_root
def test_first_use_creates_a_system_account_with_its_own_group(isolated: Sandbox,
                                                                make_user: UserFactory) -> None:
    lena = make_user("sbxt_lena")
    entry = pwd.getpwnam(TEST_UID_PREFIX + "sbxt_lena")
    assert (entry.pw_uid, entry.pw_gid) == (lena.uid, lena.gid)
    assert entry.pw_dir == "/home/sbxt_lena" and entry.pw_shell == "/usr/sbin/nologin"
    assert isolated.identity("sbxt_lena", "hacker").uid == lena.uid  # type changes keep the account


@needs_root
def test_remove_user_deletes_account_and_tmp_and_optionally_home(isolated: Sandbox) -> None:
    mona = isolated.identity("sbxt_mona", "free")
    console = run(isolated.spawn(mona, ["sleep", "300"], mona.visible_home))
    run(isolated.remove_user("sbxt_mona"))
    assert console.poll() is not None
    console.release()
    with pytest.raises(KeyError):
        pwd.getpwnam(TEST_UID_PREFIX + "sbxt_mona")
    assert not (isolated.tmp_dir / "sbxt_mona").exists()
    assert mona.home.is_dir()
    run(isolated.remove_user("sbxt_mona", delete_home=True))
    assert not mona.home.exists()


@needs_root
def test_chown_to_gives_files_to_the_user_without_following_symlinks(isolated: Sandbox,
                                                                     make_user: UserFactory,
                                                                     tmp_path: Path) -> None:
    nina = make_user("sbxt_nina")
    (nina.home / "sub").mkdir()
    (nina.home / "sub" / "file.txt").write_text("x")
    isolated.chown_to(nina, nina.home / "sub")
    isolated.chown_to(nina, nina.home / "sub" / "file.txt")
    assert (nina.home / "sub" / "file.txt").stat().st_uid == nina.uid

    outside = tmp_path / "system_file"
    outside.write_text("root's")
    (nina.home / "trap").symlink_to(tmp_path)
    with pytest.raises(OSError):  # the symlinked directory is refused on the way down
        isolated.chown_to(nina, nina.home / "trap" / "system_file")
    (nina.home / "link").symlink_to(outside)
    isolated.chown_to(nina, nina.home / "link")  # changes the link, not its target
    assert outside.stat().st_uid == 0
    with pytest.raises(ValueError, match="outside"):
        isolated.chown_to(nina, nina.home / ".." / "other")


@needs_root
def test_home_made_before_isolation_is_handed_over(isolated: Sandbox) -> None:
    home = isolated.homes_dir / "sbxt_olga"
    (home / "old").mkdir(parents=True)
    (home / "old" / "notes.txt").write_text("from before")
    try:
        olga = isolated.identity("sbxt_olga", "free")
        assert all(path.stat().st_uid == olga.uid
                   for path in (home, home / "old", home / "old" / "notes.txt"))
        assert home.stat().st_mode & 0o777 == 0o700
    finally:
        run(isolated.remove_user("sbxt_olga", delete_home=True))


def test_usernames_that_could_escape_are_refused(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path / "home")
    for bad in ("../etc", "Alice", "a/b", "", "_tarpit", "x" * 31):
        with pytest.raises(ValueError, match="invalid username"):
            sandbox.identity(bad, "free")
    with pytest.raises(ValueError, match="unknown account type 'gold'"):
        sandbox.identity("alice", "gold")
    assert not any(tmp_path.iterdir()) or os.listdir(tmp_path / "home") == []
