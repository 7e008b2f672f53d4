"""The architecture, checked on the source with `ast` (so imports inside functions and under
TYPE_CHECKING count too):

- the package's import graph has no circle; importing `a.b.c` also runs `a/__init__` and
  `a/b/__init__`, so those count as edges, except a module's own ancestors (which Python
  runs first anyway);
- results flow up and outputs one way: what reads results (metrics, records, plots) never
  imports what makes them (the models, the runner, the analytic fidelity), and `Result`
  knows neither the models nor the charts.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "simulator"


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imported(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Every module of the package that `name` imports, wherever the import statement is."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:
                candidate = f"{module}.{alias.name}"
                targets.add(candidate if candidate in known else module)
        elif isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
    edges = set()
    for target in targets:
        while target and target not in known:
            target = target.rpartition(".")[0]
        if not target:
            continue
        parts = target.split(".")
        for depth in range(1, len(parts) + 1):  # the target and the packages it runs
            edges.add(".".join(parts[:depth]))
    own_ancestors = {".".join(name.split(".")[:d]) for d in range(1, name.count(".") + 2)}
    return edges - own_ancestors


def import_graph() -> nx.DiGraph:
    known = modules()
    graph = nx.DiGraph()
    for name, path in known.items():
        graph.add_node(name)
        graph.add_edges_from((name, target) for target in imported(name, path, known))
    return graph


def test_the_checker_sees_imports_inside_functions_and_type_checking(tmp_path):
    source = tmp_path / "m.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from simulator.runner import run\n"
        "def f():\n    from simulator.scenario import units\n"
    )
    found = imported("simulator.x", source, modules())
    assert {"simulator.runner", "simulator.scenario.units", "simulator.scenario"} <= found


def test_no_import_circle():
    circles = [sorted(c) for c in nx.strongly_connected_components(import_graph()) if len(c) > 1]
    assert not circles, f"import circles: {circles}"


MAKERS = ("simulator.model", "simulator.runner", "simulator.analytic")
"""What runs a scenario: nothing that reads results may import these."""
READERS = ("simulator.metrics", "simulator.plots", "simulator.records")


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("reader", sorted(m for m in modules() if _within(m, READERS)))
def test_readers_of_results_import_nothing_that_makes_them(reader: str) -> None:
    known = modules()
    assert sorted(t for t in imported(reader, known[reader], known) if _within(t, MAKERS)) == []


def test_results_know_neither_the_models_nor_the_charts() -> None:
    known = modules()
    found = imported("simulator.results", known["simulator.results"], known)
    assert sorted(t for t in found if _within(t, (*MAKERS, "simulator.plots"))) == []
