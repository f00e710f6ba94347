"""Every solution file committed next to the HCSP instances (``datasets/hcsp/SIZE/``) holds a
feasible schedule whose makespan, by the one evaluator on the instance as ``qsched bench
hcsp`` loads it, is the one its name states (to the name's one decimal). A schedule that
qsched finds and commits as ``<instance>_QSCHED_<makespan>.sol`` is checked the same way."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from qsched.bench import hcsp_suite
from qsched.bench import runner as bench
from qsched.formats import hcsp
from qsched.model.evaluate import evaluate
from qsched.model.problem import Problem

DATA = Path(__file__).resolve().parent.parent / "datasets"
SIZES = sorted(p.name for p in (DATA / hcsp_suite.DIRECTORY).iterdir() if p.is_dir())
SOLUTIONS = [
    (size, solution)
    for size in SIZES
    for solution in hcsp.solution_files(DATA / hcsp_suite.DIRECTORY / size)
]
#: The name states the makespan to one decimal.
ROUNDING = 0.05


@functools.cache
def problem(name: str) -> Problem:
    """An instance as the bench loads it, read once for all its solution files."""
    return bench.load("hcsp", name, DATA)


def test_every_published_size_has_a_cpr_value_for_every_instance():
    assert set(hcsp_suite.SIZES) <= set(SIZES)
    for size in SIZES:
        names = bench.instances("hcsp", DATA, [size])
        assert set(hcsp_suite.references(DATA, [size]).cpr) == set(names), size


@pytest.mark.parametrize(
    ("size", "solution"), SOLUTIONS, ids=[f"{size}/{s.path.name}" for size, s in SOLUTIONS]
)
def test_a_solution_file_holds_a_feasible_schedule_of_the_makespan_it_names(size, solution):
    instance = problem(hcsp_suite.record_name(size, solution.instance))
    assignment = hcsp.read_solution(solution.path)
    assert assignment.shape == (instance.num_tasks,)
    assert assignment.min() >= 0 and assignment.max() < instance.num_machines
    value = evaluate(instance, assignment)
    assert value.feasible
    assert abs(value.makespan - solution.makespan) <= ROUNDING + 1e-9 * solution.makespan
