"""Braun et al. instances: the loader, the published Min-min table, and best-known bounds."""

import json
from pathlib import Path

import pytest

from qsched.cli import main
from qsched.formats import files, hcsp
from qsched.model import registry
from qsched.model.evaluate import evaluate
from qsched.model.solver import Budget

DATA = Path(__file__).resolve().parent.parent / "datasets" / "hcsp" / "512x16"
INSTANCES = sorted(p.name for p in DATA.iterdir() if hcsp.is_etc_file(p))

# Min-min makespans published by Braun et al. (2001), as tabulated in datasets/hcsp/FORMAT.md.
MIN_MIN = {
    "u_c_hihi.0": 8460675.0,
    "u_c_hilo.0": 161805.4,
    "u_c_lohi.0": 275837.4,
    "u_c_lolo.0": 5441.4,
    "u_i_hihi.0": 3513919.3,
    "u_i_hilo.0": 80755.7,
    "u_i_lohi.0": 120517.7,
    "u_i_lolo.0": 2785.6,
    "u_s_hihi.0": 5160342.8,
    "u_s_hilo.0": 104375.2,
    "u_s_lohi.0": 140284.5,
    "u_s_lolo.0": 3806.8,
}


@pytest.fixture(scope="module")
def problems():
    return {name: files.read_problem(DATA / name) for name in INSTANCES}


def test_all_twelve_instances_load_as_512_by_16(problems):
    assert sorted(problems) == sorted(MIN_MIN)
    for problem in problems.values():
        assert problem.etc.shape == (512, 16)
        assert problem.makespan_weight == 1.0 and problem.energy_weight == 0.0


@pytest.mark.parametrize("name", sorted(MIN_MIN))
def test_min_min_reproduces_the_published_table(problems, name):
    result = registry.solve(problems[name], "min-min")
    assert round(result.evaluation.makespan, 1) == MIN_MIN[name]


def test_solution_files_evaluate_to_the_makespan_in_their_name(problems):
    solutions = hcsp.solution_files(DATA)
    assert len(solutions) == 24  # two per instance
    for solution in solutions:
        makespan = evaluate(problems[solution.instance], hcsp.read_solution(solution.path)).makespan
        assert makespan == pytest.approx(solution.makespan, abs=0.051)


def test_no_solver_beats_the_best_known_makespan(problems):
    best = {name: float("inf") for name in problems}
    for solution in hcsp.solution_files(DATA):
        makespan = evaluate(problems[solution.instance], hcsp.read_solution(solution.path)).makespan
        best[solution.instance] = min(best[solution.instance], makespan)
    assert best["u_c_hihi.0"] == pytest.approx(
        hcsp.best_known_makespans(DATA)["u_c_hihi.0"], abs=0.05
    )
    for name, problem in problems.items():
        for solver in ("min-min", "max-min", "sufferage"):
            assert registry.solve(problem, solver).evaluation.makespan >= best[name]
        searched = registry.solve(problem, "local-search", Budget(evaluations=300), seed=1)
        assert best[name] <= searched.evaluation.makespan <= MIN_MIN[name] + 0.05


@pytest.mark.parametrize("solver", ["ga", "pso", "aco"])
def test_metaheuristics_beat_min_min_and_not_the_best_known(problems, solver):
    """The benchmark's claim at a small evaluation budget, on one instance per consistency class."""
    for name in ("u_c_hilo.0", "u_i_lohi.0", "u_s_lolo.0"):
        result = registry.solve(problems[name], solver, Budget(evaluations=1500), seed=0)
        best = min(
            evaluate(problems[name], hcsp.read_solution(s.path)).makespan
            for s in hcsp.solution_files(DATA)
            if s.instance == name
        )
        assert best <= result.evaluation.makespan < MIN_MIN[name]


def test_cli_reports_the_published_min_min_makespan(capsys):
    assert main(["solve", str(DATA / "u_c_hihi.0"), "--solver", "min-min", "--json"]) == 0
    response = json.loads(capsys.readouterr().out)
    assert round(response["schedule"]["metrics"]["makespan_seconds"], 1) == 8460675.0
