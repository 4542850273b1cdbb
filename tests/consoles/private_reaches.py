"""Finds where our code touches another library's private names.

Read from the source (ast) and, for classes, from the running classes'
method resolution order, so that ``self._name`` counts as a reach when the
name belongs to a library base class:

* ``from lib import _name`` and imports of a private module of a library;
* ``obj._name`` (or ``getattr(obj, "_name")``) where ``obj`` is not
  ``self``/``cls``/``super()`` and no code of ours defines ``_name``;
* ``self._name``, ``super()._name`` and ``def _name`` in a class of ours
  when a library class it derives from uses ``_name`` (reading it,
  overriding it);
* assignments to attributes of a library's module or class (monkey-patching).
"""
from __future__ import annotations

import ast
import importlib
import inspect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# namedtuple's documented API carries an underscore so as not to clash with field names.
NAMEDTUPLE_API = {"_replace", "_asdict", "_fields", "_make", "_field_defaults"}
# Public, documented names that start with an underscore.
DOCUMENTED = {"os._exit"}
ATTRIBUTE_FUNCTIONS = {"getattr", "setattr", "hasattr", "delattr"}


@dataclass(frozen=True)
class Reach:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _module_name(root: Path, path: Path) -> str:
    return ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")


class Scanner:
    """Scans the packages ``packages`` under ``root``; files in ``allowed`` may reach."""

    def __init__(self, root: Path, packages: Iterable[str], allowed: Iterable[str] = ()) -> None:
        self.root = root
        self.packages = tuple(packages)
        self.allowed = set(allowed)
        self.files = sorted(path for package in self.packages
                            for path in (root / package).rglob("*.py"))
        self.trees = {path: ast.parse(path.read_text(), str(path)) for path in self.files}
        self._library_names_cache: dict[type, set[str]] = {}
        self.own_names = self._own_private_names()

    def ours(self, module: str | None) -> bool:
        return module is not None and module.split(".")[0] in self.packages

    def _own_private_names(self) -> set[str]:
        names: set[str] = set()
        for tree in self.trees.values():
            for node in ast.walk(tree):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    names.add(node.name)
                elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    names.add(node.id)
                elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                    names.add(node.attr)
        names = {name for name in names if is_private(name)}
        # A name a library base class uses is the library's, even where we assign it.
        for _, cls in self._our_classes():
            names -= self._library_names(cls)
        return names

    def _our_classes(self) -> Iterator[tuple[ast.ClassDef, type]]:
        for path, tree in self.trees.items():
            if path.name == "__main__.py":
                continue  # runs the program when imported; defines no classes
            module = importlib.import_module(_module_name(self.root, path))
            for node in tree.body:
                if isinstance(node, ast.ClassDef):
                    cls = getattr(module, node.name, None)
                    if isinstance(cls, type):
                        yield node, cls

    def _library_names(self, cls: type) -> set[str]:
        """Private names used by the library classes ``cls`` derives from."""
        names: set[str] = set()
        for base in cls.__mro__:
            if base is not object and not self.ours(base.__module__):
                names |= self._names_used_by(base)
        return names - NAMEDTUPLE_API

    def _names_used_by(self, library_class: type) -> set[str]:
        if library_class not in self._library_names_cache:
            names = {name for name in vars(library_class) if is_private(name)}
            try:
                source = inspect.getsource(library_class)
            except (OSError, TypeError):
                pass  # written in C: its attributes are all in vars()
            else:
                names.update(node.attr for node in ast.walk(ast.parse(_dedent(source)))
                             if isinstance(node, ast.Attribute) and is_private(node.attr))
            self._library_names_cache[library_class] = names
        return self._library_names_cache[library_class]

    def reaches(self) -> list[Reach]:
        found: list[Reach] = []
        class_names = {id(node): self._library_names(cls) for node, cls in self._our_classes()}
        for path, tree in self.trees.items():
            relative = str(path.relative_to(self.root))
            if relative in self.allowed:
                continue
            found += (Reach(relative, line, what)
                      for line, what in self._file_reaches(tree, class_names))
        return found

    def _file_reaches(self, tree: ast.Module,
                      class_names: dict[int, set[str]]) -> Iterator[tuple[int, str]]:
        library_bindings: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and not self.ours(node.module):
                module = node.module or ""
                if any(is_private(part) for part in module.split(".")):
                    yield node.lineno, f"imports the private module {module}"
                for alias in node.names:
                    if is_private(alias.name):
                        yield node.lineno, f"imports {module}.{alias.name}"
                    library_bindings.add(alias.asname or alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if self.ours(alias.name):
                        continue
                    if any(is_private(part) for part in alias.name.split(".")):
                        yield node.lineno, f"imports the private module {alias.name}"
                    library_bindings.add(alias.asname or alias.name.split(".")[0])
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and id(node) in class_names:
                yield from self._class_reaches(node, class_names[id(node)])
            for owner, name, line in _attribute_uses(node):
                if _is_self(owner) or name in NAMEDTUPLE_API or f"{ast.unparse(owner)}.{name}" in DOCUMENTED:
                    continue
                if is_private(name) and name not in self.own_names:
                    yield line, f"reads {ast.unparse(owner)}.{name}"
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, (ast.Store, ast.Del)):
                root = _root_name(node)
                if root in library_bindings:
                    yield node.lineno, f"patches {ast.unparse(node)}"

    def _class_reaches(self, node: ast.ClassDef, library: set[str]) -> Iterator[tuple[int, str]]:
        for child in ast.walk(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) and child.name in library:
                yield child.lineno, f"{node.name} overrides the library's {child.name}"
            for owner, name, line in _attribute_uses(child):
                if _is_self(owner) and name in library:
                    yield line, f"{node.name} uses the library's {ast.unparse(owner)}.{name}"


def _dedent(source: str) -> str:
    lines = source.splitlines()
    indent = len(lines[0]) - len(lines[0].lstrip())
    return "\n".join(line[indent:] for line in lines)


def _attribute_uses(node: ast.AST) -> Iterator[tuple[ast.expr, str, int]]:
    """``owner.name`` and ``getattr(owner, "name")`` (and setattr, hasattr, delattr)."""
    if isinstance(node, ast.Attribute):
        yield node.value, node.attr, node.lineno
    elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
          and node.func.id in ATTRIBUTE_FUNCTIONS and len(node.args) >= 2
          and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
        yield node.args[0], node.args[1].value, node.lineno


def _is_self(owner: Any) -> bool:
    if isinstance(owner, ast.Name):
        return owner.id in ("self", "cls")
    return (isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name)
            and owner.func.id == "super")


def _root_name(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None
