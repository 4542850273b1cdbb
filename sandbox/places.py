"""Where a user's own directories are: as their programs name them, and on the host.

A base class of :class:`sandbox.spawner.Sandbox` (which sets the directories
declared here): the server, the files API and the web apps all map the
user's ``/home/<u>``, ``/var/log``, ``/var/www`` and socket directory
through it, so that they never disagree.
"""
from __future__ import annotations

import posixpath
from pathlib import Path

from sandbox.child_setup import LOG_TARGET, RUN_TARGET, WWW_TARGET
from sandbox.identity import Identity, Places, check_username


class UserPlaces:
    homes_dir: Path
    log_dir: Path
    www_dir: Path
    run_dir: Path

    @staticmethod
    def visible_places(identity: Identity) -> Places:
        """The user's places as they, the pages and the API name them (``/home/<u>``, ``/var/log``…)."""
        return Places(home=identity.visible_home, log=LOG_TARGET, www=WWW_TARGET, run=RUN_TARGET)

    def host_places(self, identity: Identity) -> Places:
        """The same places as the server reaches them on the host."""
        return self.host_places_of(identity.username)

    def host_places_of(self, name: str) -> Places:
        """:meth:`host_places` by username (pure path arithmetic: nothing is created)."""
        check_username(name)
        return Places(home=str(self.homes_dir / name), log=str(self.log_dir / name), www=str(self.www_dir / name),
                      run=str(self.run_dir / name))

    def host_path(self, identity: Identity, path: str) -> Path:
        """Map a path as the user sees it (``/home/<u>/…``, ``/var/log/…``) to the host."""
        path = posixpath.normpath(path)
        for visible, host in zip(self.visible_places(identity), self.host_places(identity), strict=True):
            if path == visible or path.startswith(visible + "/"):
                return Path(host) / path[len(visible):].lstrip("/")
        return Path(path)
