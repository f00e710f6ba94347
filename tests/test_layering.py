"""The tree reads as the architecture: which package may import which, and no circles.

Imports are read from the sources (every ``import`` statement, lazy ones inside functions
and ``TYPE_CHECKING`` blocks included), with the folders setup.py maps into ``qsched``
named as they install. The layers, lowest first: the wire code (``qsched.v1``) and the
package root; the model; the search machinery; the formats; the solvers and the
baselines (never each other); the service and the benchmarks (never each other); the CLI
and the entry point. A package imports its own layer's subpackage or a lower layer, never a
higher one. The testing kit may import anything; nothing in the product imports it, nor
the ``benchmarks`` scripts or the ``tests``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Folder -> the package it installs as (setup.py's MAPPED_FOLDERS, plus the core).
FOLDERS = {
    "qsched": "qsched",
    "service": "qsched.service",
    "solvers": "qsched.solvers",
    "baselines": "qsched.baselines",
}
#: Top-level subpackage -> its layer.
LAYERS = {
    "qsched": 0,
    "qsched.v1": 0,
    "qsched.model": 1,
    "qsched.search": 2,
    "qsched.formats": 3,
    "qsched.solvers": 4,
    "qsched.baselines": 4,
    "qsched.service": 5,
    "qsched.bench": 5,
    "qsched.cli": 6,
    "qsched.__main__": 7,
}
TESTING_KIT = "qsched.testing"
OUTSIDE_THE_PRODUCT = ("benchmarks", "tests", TESTING_KIT)


def _modules() -> dict[str, Path]:
    """Every module of the installed package (generated code aside), by dotted name."""
    found = {}
    for folder, package in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = [p for p in path.relative_to(ROOT / folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            name = ".".join([package, *parts])
            if not name.startswith("qsched.v1"):
                found[name] = path
    return found


MODULES = _modules()


def _imported(path: Path, name: str) -> Iterator[str]:
    """The modules ``path`` imports: ``from a import b`` names ``a.b`` when that is a module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            yield base
            for alias in node.names:
                if f"{base}.{alias.name}" in MODULES:
                    yield f"{base}.{alias.name}"


GRAPH = {name: {m for m in _imported(path, name) if m != name} for name, path in MODULES.items()}


def _subpackage(module: str) -> str:
    parts = module.split(".")
    if parts[0] != "qsched" or len(parts) == 1:
        return parts[0]
    return ".".join(parts[:2])


def test_every_product_module_is_in_a_layer_or_the_testing_kit():
    unplaced = {
        n for n in MODULES if _subpackage(n) not in LAYERS and _subpackage(n) != TESTING_KIT
    }
    assert not unplaced


@pytest.mark.parametrize("module", sorted(n for n in MODULES if _subpackage(n) in LAYERS))
def test_imports_point_down_the_layers_only(module):
    own = _subpackage(module)
    wrong = sorted(
        target
        for target in GRAPH[module]
        if _subpackage(target) in LAYERS
        and _subpackage(target) != own
        and LAYERS[_subpackage(target)] >= LAYERS[own]
    )
    assert not wrong, f"{module} imports up or across the layers: {wrong}"


@pytest.mark.parametrize("module", sorted(n for n in MODULES if _subpackage(n) in LAYERS))
def test_the_product_never_imports_the_testing_kit_benchmarks_or_tests(module):
    wrong = sorted(
        target
        for target in GRAPH[module]
        if target.split(".")[0] in OUTSIDE_THE_PRODUCT or _subpackage(target) == TESTING_KIT
    )
    assert not wrong


def test_there_is_no_import_circle():
    """Tarjan's strongly connected components over the module graph: none with two members."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in GRAPH[node] & MODULES.keys():
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while (member := stack.pop()) != node:
                component.append(member)
            if component:
                circles.append(sorted([node, *component]))

    for node in sorted(MODULES):
        if node not in index:
            visit(node)
    assert not circles


def test_the_graph_sees_the_imports_it_should():
    """The reader itself: a lazy import inside a function counts, as does a relative one."""
    assert "qsched.model.problem" in GRAPH["qsched.model.evaluate"]
    assert "qsched.service.server" in GRAPH["qsched.cli"] | {
        t for n, ts in GRAPH.items() if n.startswith("qsched.cli.") for t in ts
    }
