"""`qsched gen`: seeded, valid, constrained but satisfiable instances."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from qsched.cli import main
from qsched.formats import files
from qsched.formats.generate import _generate, generate, specpower_curves
from qsched.model.evaluate import evaluate
from qsched.model.problem import Problem


def test_same_seed_same_instance_other_seed_other_instance():
    assert generate(20, 4, seed=5) == generate(20, 4, seed=5)
    assert generate(20, 4, seed=5) != generate(20, 4, seed=6)


@pytest.mark.parametrize("tasks, machines, seed", [(8, 3, 1), (40, 6, 2), (120, 10, 3)])
def test_reference_schedule_is_feasible_and_full_speed_breaks_the_cap(tasks, machines, seed):
    message, calibration = _generate(tasks, machines, seed, "t")
    problem = Problem.from_message(message)
    assert evaluate(problem, calibration.assignment, calibration.levels).feasible
    flat_out = evaluate(problem, calibration.assignment)
    assert flat_out.power_cap_excess > 0  # DVFS is needed
    assert np.isfinite(problem.deadline).any()


def test_machines_use_published_specpower_curves():
    curves = {tuple(c) for c in specpower_curves().values()}
    message = generate(10, 5, seed=1)
    assert all(tuple(m.spec_power.watts) in curves for m in message.machines)
    assert all(
        [level.frequency for level in m.dvfs_levels] == [1.0, 0.8, 0.6] for m in message.machines
    )


def test_cli_writes_protobuf_json_that_loads_back(tmp_path, capsys):
    path = tmp_path / "gen.json"
    assert main(["gen", "--tasks", "12", "--machines", "3", "--seed", "9", "-o", str(path)]) == 0
    assert files.read_message(path) == generate(12, 3, seed=9)
    assert json.loads(path.read_text())["tasks"][0]["id"] == "task-000"


EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "datasets" / "examples").glob("*.json"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_committed_examples_are_what_the_generator_makes(path):
    tasks, machines, seed = map(int, re.fullmatch(r"gen-(\d+)x(\d+)-s(\d+)", path.stem).groups())
    assert files.read_message(path) == generate(tasks, machines, seed)
