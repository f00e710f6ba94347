"""The registry: built-ins by module, imported only when asked for; plugins by entry point."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from qsched.formats.generate import generate
from qsched.model import registry
from qsched.model.problem import Problem

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "datasets" / "examples" / "gen-40x6-s1.json"
#: What Min-min has no use for (numba it needs: the heuristics are compiled).
HEAVY = (
    "qiskit",
    "qiskit_aer",
    "qiskit_algorithms",
    "qiskit_optimization",
    "pyomo",
    "highspy",
    "deap",
)


def test_solving_with_min_min_imports_no_quantum_mip_or_evolutionary_library():
    script = (
        "import sys\n"
        "from qsched.cli import main\n"
        f"assert main(['solve', {str(EXAMPLE)!r}, '--solver', 'min-min']) == 0\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert completed.stdout.splitlines()[-1] == "[]"


def test_each_built_in_module_registers_exactly_the_solvers_mapped_to_it():
    for module in registry.BUILTIN_MODULES:
        __import__(module)
    by_module = {
        name: spec.function.__module__
        for name, spec in registry._SOLVERS.items()
        if name in registry.BUILTIN_SOLVERS
    }
    assert by_module == registry.BUILTIN_SOLVERS


PLUGIN = """
from typing import Annotated

from qsched.model.options import Option
from qsched.model.registry import SolverKind, register
from qsched.search.tracker import SolveTracker


@register("everything-on-one", kind=SolverKind.HEURISTIC, finite=True)
def everything_on_one(
    problem, budget, seed, progress=None, *, machine: Annotated[int, Option("the machine")] = 0
):
    \"\"\"Every task on one machine.\"\"\"
    tracker = SolveTracker(problem, budget, progress)
    tracker.evaluate([machine] * problem.num_tasks)
    return tracker.result("everything-on-one", completed=True)
"""


def test_a_solver_from_an_installed_package_is_found_by_its_entry_point(tmp_path, monkeypatch):
    (tmp_path / "qsched_test_plugin.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(
        registry, "_SOLVERS", dict(registry._SOLVERS)
    )  # what the test registers goes with it
    entry = EntryPoint(
        name="everything-on-one", value="qsched_test_plugin", group=registry.ENTRY_POINT_GROUP
    )
    monkeypatch.setattr(
        registry,
        "entry_points",
        lambda group: [entry] if group == registry.ENTRY_POINT_GROUP else [],
    )
    assert "qsched_test_plugin" not in sys.modules
    try:
        assert "everything-on-one" in registry.names()
        result = registry.solve(
            Problem.from_message(generate(4, 2, seed=1)),
            "everything-on-one",
            options={"machine": 1},
        )
        assert result.evaluation.assignment.tolist() == [1, 1, 1, 1]
        assert "qsched_test_plugin" in sys.modules  # imported by the lookup
    finally:
        sys.modules.pop("qsched_test_plugin", None)


def test_an_unknown_name_says_which_solvers_there_are():
    with pytest.raises(registry.UnknownSolverError, match="known: aco, cpsat, exhaustive, ga"):
        registry.get("nope")
