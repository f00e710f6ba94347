"""The README stays true: its option table is the solvers' declarations, and its code runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from qsched.formats.generate import generate
from qsched.model import registry
from qsched.model.problem import Problem, ProblemError
from qsched.model.solver import Budget

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def section(heading: str) -> str:
    """The README's text from ``heading`` to the next heading of the same or a higher level."""
    level = heading.split()[0]
    start = README.index(f"\n{heading}\n")
    following = re.search(rf"\n#{{1,{len(level)}}} ", README[start + len(heading) + 2 :])
    return README[
        start : start + len(heading) + 2 + (following.start() if following else len(README))
    ]


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.S)


def test_the_option_table_is_what_the_solvers_declare():
    rows = [line for line in section("### Options").splitlines() if line.startswith("| `")]
    documented = []
    for row in rows:
        solver, name, kind, default, allowed, doc = (
            cell.strip() for cell in row.strip("|").split("|")
        )
        documented.append(
            (solver.strip("`"), name.strip("`"), kind, json.loads(default.strip("`")), allowed, doc)
        )
    declared = [
        (spec.name, option.name, option.type_name, option.default, option.allowed, option.doc)
        for spec in registry.available()
        for option in spec.options.values()
    ]
    assert documented == declared


def test_the_python_example_runs():
    (example,) = python_blocks(section("## Usage"))
    exec(compile(example, "README: Usage", "exec"), {})


def test_the_solver_in_adding_a_solver_runs_and_its_option_is_checked(monkeypatch, capsys):
    monkeypatch.setattr(
        registry, "_SOLVERS", dict(registry._SOLVERS)
    )  # registered for this test only
    (example,) = python_blocks(section("## Adding a solver"))
    exec(compile(example, "README: Adding a solver", "exec"), {})

    problem = Problem.from_message(generate(8, 3, seed=1))
    result = registry.solve(problem, "random-search", Budget(evaluations=200), seed=1)
    again = registry.solve(problem, "random-search", Budget(evaluations=200), seed=1)
    assert result.evaluations == 200 and result.solver == "random-search"
    assert result.evaluation.key == again.evaluation.key  # same seed and budget, same answer
    fastest = registry.solve(
        problem, "random-search", Budget(evaluations=50), options={"levels": False}
    )
    assert (fastest.evaluation.levels == problem.fastest_levels).all()
    with pytest.raises(ProblemError, match="options.levels"):
        registry.solve(problem, "random-search", Budget(evaluations=5), options={"levels": "yes"})
