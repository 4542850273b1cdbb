"""From a path as users name it (``/home/<user>/...``) to a place on the host.

Two steps with different costs: ``PathResolver.parse`` is pure string work
(syntax and who may reach which home), ``PathResolver.real`` touches the
file system to follow symlinks and proves the result is still inside the
home the path names.  Callers run ``real`` off the event loop.

Paths arrive already percent-decoded once (Tornado decodes URL path and
query arguments); anything still looking percent-encoded is a second layer
of encoding, the classic way to smuggle ``..`` or ``/`` past a check, and is
refused.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from ide.files.errors import BadPath, PathForbidden, PathNotFound

MAX_PATH_BYTES = 4096
MAX_NAME_BYTES = 255
HOMES = "home"
# %2e '.', %2f '/', %5c '\', %00 NUL: left over after one decoding means double encoding.
_ENCODED_LEFTOVER = re.compile(r"%(2e|2f|5c|00)", re.IGNORECASE)


def check_name(name: str) -> str:
    """``name`` if it can be one path component; BadPath saying why not otherwise."""
    if not name or name in (".", ".."):
        raise BadPath(f"{name!r} cannot be a file name.")
    if "/" in name:
        raise BadPath(f"{name!r} cannot be a file name: it contains '/'.")
    if "\0" in name:
        raise BadPath("File names cannot contain NUL bytes.")
    try:
        size = len(name.encode())
    except UnicodeEncodeError:
        raise BadPath(f"{name!r} is not valid text; rename it.") from None
    if size > MAX_NAME_BYTES:
        raise BadPath(f"The name {name[:40]!r}... is {size} bytes long; "
                      f"names are limited to {MAX_NAME_BYTES} bytes.")
    return name


@dataclass(frozen=True)
class HomePath:
    """A place inside one user's home: ``parts`` are the components below it.

    The same for the user's other places (``/var/log``, ``/var/www``):
    ``root`` is then how they are named, ``home`` their directory on the
    host; ``writable`` is False where only reading and deleting are allowed.
    """

    owner: str
    home: Path
    parts: tuple[str, ...]
    root: str = ""
    writable: bool = True

    @property
    def visible(self) -> str:
        """The path as users, the API and consoles name it, without a trailing slash."""
        return "/".join((self.visible_home, *self.parts))

    @property
    def visible_home(self) -> str:
        return self.root or f"/{HOMES}/{self.owner}"

    def at(self, parts: tuple[str, ...]) -> HomePath:
        """Another place in the same home (or the same other place)."""
        return replace(self, parts=parts)

    @property
    def host(self) -> Path:
        return self.home.joinpath(*self.parts)

    @property
    def name(self) -> str:
        return self.parts[-1] if self.parts else self.owner

    @property
    def is_home(self) -> bool:
        return not self.parts

    @property
    def parent(self) -> HomePath:
        if self.is_home:
            raise BadPath(f"{self.visible} is a home directory; it has no parent you can reach.")
        return self.at(self.parts[:-1])

    def child(self, name: str) -> HomePath:
        return self.at((*self.parts, check_name(name)))

    def is_within(self, other: HomePath) -> bool:
        """True when this path is ``other`` or below it."""
        return (self.owner == other.owner and self.root == other.root
                and self.parts[:len(other.parts)] == other.parts)


def _components(path: str) -> list[str]:
    if not isinstance(path, str) or not path:
        raise BadPath("Give a file path, such as /home/<you>/script.py.")
    if "\0" in path:
        raise BadPath("File paths cannot contain NUL bytes.")
    try:
        size = len(path.encode())
    except UnicodeEncodeError:
        raise BadPath("The path is not valid text.") from None
    if size > MAX_PATH_BYTES:
        raise BadPath(f"The path is {size} bytes long; paths are limited to {MAX_PATH_BYTES} bytes.")
    if _ENCODED_LEFTOVER.search(path):
        raise BadPath("The path is percent-encoded twice (it still contains %2e, %2f, %5c or %00 "
                      "after decoding); encode it once.")
    if not path.startswith("/"):
        raise BadPath(f"{path!r} is relative; give the full path, such as /home/<you>/{path}.")
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise BadPath("'..' is not allowed in file paths; give the full path under /home/<user>/.")
    for part in parts:
        check_name(part)
    return parts


class PathResolver:
    """Resolves paths for one caller, who may reach only the homes in ``reachable``.

    ``reachable`` is the caller's own username plus, for a teacher, their
    students' (a student never reaches a classmate's or the teacher's home).
    Homes outside it answer PathNotFound, the same as a missing file, so the
    answer never tells whether another user or their file exists.
    """

    def __init__(self, homes_dir: Path, caller: str, reachable: Iterable[str],
                 places: Mapping[str, tuple[Path, bool]] | None = None) -> None:
        self.homes_dir = Path(homes_dir)
        self.caller = caller
        self.reachable = frozenset(reachable) | {caller}
        # The caller's own other places: name (``/var/log``) → (host directory, writable).
        self.places = dict(places or {})

    def home(self, owner: str) -> HomePath:
        if owner not in self.reachable:
            raise self._unreachable(f"/{HOMES}/{owner}")
        return HomePath(owner, self.homes_dir / owner, ())

    def parse(self, path: str) -> HomePath:
        """The HomePath a visible path names; no file system access."""
        parts = _components(path)
        for root, (host, writable) in self.places.items():
            named = root.strip("/").split("/")
            if parts[:len(named)] == named:
                return HomePath(self.caller, host, tuple(parts[len(named):]), root=root, writable=writable)
        if len(parts) < 2 or parts[0] != HOMES or parts[1] not in self.reachable:
            raise self._unreachable(path)
        return HomePath(parts[1], self.homes_dir / parts[1], tuple(parts[2:]))

    def _unreachable(self, path: str) -> PathNotFound:
        return PathNotFound(f"No such file or directory: {path} (your files are under "
                            f"/{HOMES}/{self.caller}/).")

    @staticmethod
    def real(path: HomePath, follow_final: bool = True) -> HomePath:
        """``path`` with every symlink resolved, refused unless it stays in its own home.

        With ``follow_final=False`` the last component is kept as it is (to
        delete or rename a symlink itself rather than what it points to).
        The result contains no symlinks, so walking it again with O_NOFOLLOW
        (``home_io``) fails loudly if someone swapped one in meanwhile.
        Blocking: call off the event loop.
        """
        home = os.path.realpath(path.home)
        if path.is_home:
            return path
        if follow_final:
            target = os.path.realpath(path.host)
        else:
            target = os.path.join(os.path.realpath(path.host.parent), path.name)
        if target != home and not target.startswith(home + os.sep):
            raise PathForbidden(f"{path.visible} leads outside {path.visible_home} through a symbolic "
                                "link; it cannot be opened or changed here.")
        relative = os.path.relpath(target, home)
        parts = () if relative == "." else tuple(relative.split(os.sep))
        return path.at(parts)
