"""The import rules of the tree: layers import downwards only, and no module imports in a circle.

Every import counts: at the top, inside functions and under ``if
TYPE_CHECKING:``, since each of them is a dependency a reader has to follow.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("sandbox", "supervisor", "consoles", "tasks", "ide")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")}


def _ours(name: str) -> str | None:
    """The module of ours that ``name`` (a module, or a name inside one) is, if any."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str) -> set[str]:
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(filter(None, (_ours(alias.name) for alias in node.names)))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            for alias in node.names:
                target = _ours(f"{base}.{alias.name}") or _ours(base)
                if target:
                    found.add(target)
    found.discard(module)
    return found


GRAPH = {module: imports_of(module) for module in MODULES}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def test_the_checker_finds_a_cycle_and_relative_imports():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert "consoles.frames" in GRAPH["consoles.console"]  # `from consoles import frames`
    assert "ide.services" in GRAPH["ide.app"]


def test_no_module_imports_in_a_circle():
    assert cycles(GRAPH) == []


@pytest.mark.parametrize("layer, forbidden", [
    ("sandbox", ("supervisor", "consoles", "tasks", "ide")),
    ("supervisor", ("consoles", "tasks", "ide")),
    ("consoles", ("tasks", "ide")),
    ("tasks", ("ide",)),
    ("ide.web", ("ide.api",)),
])
def test_layers_import_downwards_only(layer: str, forbidden: tuple[str, ...]):
    wrong = sorted(f"{module} imports {target}" for module, targets in GRAPH.items()
                   if module == layer or module.startswith(layer + ".")
                   for target in targets
                   if any(target == f or target.startswith(f + ".") for f in forbidden))
    assert wrong == []
