"""Discovering the console kinds a node can start."""
from __future__ import annotations

import os

from consoles import ConsoleKind, discover_kinds


def make_program(directory, name, executable=True, works=True):
    path = directory / name
    path.write_text("#!/bin/sh\nexit 0\n" if works else "#!/bin/sh\necho 'not selected' >&2; exit 127\n")
    path.chmod(0o755 if executable else 0o644)
    return str(path)


def test_bash_pythons_newest_first_and_ipython(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    bash = make_program(first, "bash")
    py39 = make_program(first, "python3.9")
    py312 = make_program(second, "python3.12")
    make_program(second, "python3.9")  # shadowed by the first directory
    py310 = make_program(second, "python3.10")
    make_program(second, "python3.11-config")
    make_program(second, "python3.13", executable=False)
    make_program(second, "python3.14", works=False)  # a version manager's shim for another version
    make_program(second, "python3")
    ipython = make_program(second, "ipython")
    kinds = discover_kinds(f"{first}{os.pathsep}{second}")
    assert kinds == [
        ConsoleKind("bash", "Bash", (bash,)),
        ConsoleKind("python3", "Python 3", (py312,)),
        ConsoleKind("python3.12", "Python 3.12", (py312,)),
        ConsoleKind("python3.10", "Python 3.10", (py310,)),
        ConsoleKind("python3.9", "Python 3.9", (py39,)),
        ConsoleKind("ipython", "IPython", (ipython,)),
    ]


def test_ipython3_is_preferred_when_it_works(tmp_path):
    ipython = make_program(tmp_path, "ipython")
    ipython3 = make_program(tmp_path, "ipython3")
    assert discover_kinds(str(tmp_path)) == [ConsoleKind("ipython", "IPython", (ipython3,))]
    make_program(tmp_path, "ipython3", works=False)
    assert discover_kinds(str(tmp_path)) == [ConsoleKind("ipython", "IPython", (ipython,))]


def test_nothing_found_on_an_empty_path(tmp_path):
    assert discover_kinds(str(tmp_path / "missing")) == []


def test_this_machine_offers_bash_and_a_python_that_starts():
    kinds = {kind.key: kind for kind in discover_kinds()}
    assert "bash" in kinds and "python3" in kinds
