"""The kinds of console a user can start: Bash, each Python 3.x on PATH, IPython when installed."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass

_PYTHON = re.compile(r"python3\.(\d+)")
_CHECK_TIMEOUT = 10.0


@dataclass(frozen=True)
class ConsoleKind:
    """``key`` is stable (used in URLs and forms), ``label`` is for people."""

    key: str
    label: str
    argv: tuple[str, ...]


def _python_minors(search_path: str) -> list[int]:
    minors: set[int] = set()
    for directory in search_path.split(os.pathsep):
        try:
            names = os.listdir(directory or ".")
        except OSError:
            continue
        for name in names:
            match = _PYTHON.fullmatch(name)
            if match and os.access(os.path.join(directory, name), os.X_OK):
                minors.add(int(match.group(1)))
    return sorted(minors, reverse=True)


def _starting(programs: list[str]) -> set[str]:
    """The programs that run ``--version`` successfully, checked side by side.

    Version managers (pyenv, asdf) put a shim on PATH for every version they
    installed, but a shim only runs the versions currently selected.
    """
    checks: dict[str, subprocess.Popen[bytes]] = {}
    for program in programs:
        try:
            checks[program] = subprocess.Popen([program, "--version"], stdin=subprocess.DEVNULL,
                                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError:
            continue
    working: set[str] = set()
    for program, check in checks.items():
        try:
            if check.wait(timeout=_CHECK_TIMEOUT) == 0:
                working.add(program)
        except subprocess.TimeoutExpired:
            check.kill()
            check.wait()
    return working


def discover_kinds(path: str | None = None) -> list[ConsoleKind]:
    """The console kinds available on ``path`` (default: this process's PATH).

    Pythons come newest first; the newest is offered once more as plain
    "Python 3".  Programs are named by their full path as found, so what
    runs is what was listed.  Each candidate Python and IPython is run once
    to check that it starts (a fraction of a second in all): call this at
    start-up, not on the IOLoop for every request.
    """
    search_path = path if path is not None else os.environ.get("PATH", os.defpath)
    pythons: list[tuple[int, str]] = []
    for minor in _python_minors(search_path):
        program = shutil.which(f"python3.{minor}", path=search_path)
        if program:
            pythons.append((minor, program))
    ipythons = [program for program in (shutil.which(name, path=search_path)
                                        for name in ("ipython3", "ipython")) if program]
    working = _starting([program for _, program in pythons] + ipythons)

    kinds: list[ConsoleKind] = []
    bash = shutil.which("bash", path=search_path)
    if bash:
        kinds.append(ConsoleKind("bash", "Bash", (bash,)))
    pythons = [(minor, program) for minor, program in pythons if program in working]
    if pythons:
        kinds.append(ConsoleKind("python3", "Python 3", (pythons[0][1],)))
    kinds.extend(ConsoleKind(f"python3.{minor}", f"Python 3.{minor}", (program,))
                 for minor, program in pythons)
    for ipython in ipythons:
        if ipython in working:
            kinds.append(ConsoleKind("ipython", "IPython", (ipython,)))
            break
    return kinds
