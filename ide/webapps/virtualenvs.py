"""Whether an app's virtualenv can run it: it exists, and was made by the app's Python.

PythonAnywhere warns about both on its Web page, and both are the usual
reason a learner's app fails to start after choosing a virtualenv: a path
typed wrong, or a virtualenv made with another ``python3.x`` (its packages
are then built for the other version).  The check reads the virtualenv's
``pyvenv.cfg`` as root, so it opens nothing through a link and reads only a
small regular file of the owner's.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from ide.webapps.incidents import read_owners_file

_VERSION = re.compile(r"^\s*version(?:_info)?\s*=\s*(\d+)\.(\d+)", re.M)
_MAX_CONFIG = 64 * 1024


def virtualenv_problem(shown: str, host: Path, python_version: str, owner_uid: int | None) -> str:
    """What is wrong with the virtualenv at ``shown`` (``host`` on the server) for an app set to
    ``python_version`` (``python311``); "" when nothing is."""
    if not os.path.lexists(host / "bin" / "python"):
        return f"There is no virtualenv at {shown} (it has no bin/python): check the path, or make it."
    made_with = _version_of(host / "pyvenv.cfg", owner_uid)
    wanted = f"{python_version.removeprefix('python')[0]}.{python_version.removeprefix('python')[1:]}"
    if made_with is not None and made_with != wanted:
        return (f"The virtualenv at {shown} was made with Python {made_with}, but this web app runs "
                f"Python {wanted}: make the virtualenv again with python{wanted} -m venv, "
                f"or set the web app's Python to {made_with}.")
    return ""


def _version_of(config: Path, owner_uid: int | None) -> str | None:
    match = _VERSION.search(read_owners_file(config, owner_uid, _MAX_CONFIG) or "")
    return f"{match.group(1)}.{match.group(2)}" if match else None
