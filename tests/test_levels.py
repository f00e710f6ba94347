"""DVFS level selection: the program's ground state against brute force, and what any VQE run
answers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from builders import generated

from qsched.model.evaluate import evaluate
from qsched.model.solver import Budget
from qsched.search.list_scheduling import list_schedule
from qsched.search.tracker import SolveTracker
from qsched.solvers.backends import device
from qsched.solvers.engine import cost_diagonal
from qsched.solvers.levels import LevelSelection
from qsched.solvers.vqe import VqeReport, refine_levels, warm_start

# (tasks, machines, seed): every task at full load, so the power row is the evaluator's peak.
INSTANCES = [(6, 2, 1), (8, 2, 2), (6, 3, 3), (8, 3, 6)]


def best_levels(problem, assignment):
    choices = itertools.product(*(range(k) for k in problem.level_count))
    return min(
        (evaluate(problem, assignment, np.array(levels)) for levels in choices), key=lambda e: e.key
    )


def min_min(problem):
    return list_schedule(problem, "min-min")


@pytest.mark.parametrize("shape", INSTANCES)
def test_level_program_ground_state_is_the_best_level_choice(shape):
    problem = generated(*shape, uniform_load=True)
    assignment = min_min(problem)
    selection = LevelSelection(problem, assignment)
    form = selection.to_qubo()
    ground = int(np.argmin(cost_diagonal(form.arrays)))
    levels = selection.interpret(form.original((ground >> np.arange(form.num_qubits)) & 1))
    assert evaluate(problem, assignment, levels).key == best_levels(problem, assignment).key


def test_makespan_thermometer_prices_the_largest_busy_time_exactly():
    problem = generated(6, 3, 3, uniform_load=True)
    assignment = min_min(problem)
    selection = LevelSelection(problem, assignment)
    program = selection.to_quadratic_program()
    for levels in itertools.product(*(range(k) for k in problem.level_count)):
        levels = np.array(levels)
        x = selection.solution(levels)
        evaluation = evaluate(problem, assignment, levels)
        if program.is_feasible(x) and evaluation.feasible:
            assert program.objective.evaluate(x) * selection.scale == pytest.approx(
                evaluation.objective, rel=1e-9
            )


def test_warm_start_angles_prepare_the_current_levels_most_likely():
    angles = warm_start(np.array([1, 0, 1]))
    flip = np.sin(angles[:3] / 2) ** 2  # probability of reading 1 after RY(theta) on |0>
    assert np.all(flip[[0, 2]] > 0.75) and flip[1] < 0.25 and np.all(angles[3:] == 0)


@pytest.mark.parametrize("shape", [(6, 2, 1), (8, 2, 2), (6, 3, 3)])
def test_vqe_answers_the_best_level_choice_it_read_between_its_start_and_brute_force(shape):
    """What any VQE run gives, wherever COBYLA goes: the best levels the evaluator scored,
    the assignment unchanged, no worse than the start and no better than brute force."""
    problem = generated(*shape, uniform_load=True)
    assignment = min_min(problem)
    tracker = SolveTracker(problem, Budget())
    start = tracker.evaluate(assignment)
    refined = refine_levels(tracker, start, device("engine", seed=0), VqeReport())
    assert refined.key == tracker.best.key and tracker.evaluations > 1
    assert np.array_equal(refined.assignment, assignment)
    assert best_levels(problem, assignment).key <= refined.key <= start.key


def test_vqe_never_returns_worse_than_its_start():
    problem = generated(8, 3, 6, uniform_load=True)
    tracker = SolveTracker(problem, Budget())
    start = tracker.evaluate(min_min(problem), problem.level_count - 1)
    report = VqeReport()
    refined = refine_levels(tracker, start, device("engine", seed=0), report, iterations=20)
    assert refined.key <= start.key
    assert report.blocks >= 1 and report.qubits <= 14


def test_vqe_runs_on_a_noisy_backend_and_keeps_the_best_it_reads():
    problem = generated(3, 1, 4, uniform_load=True)
    tracker = SolveTracker(problem, Budget())
    start = tracker.evaluate(np.zeros(3, dtype=np.int64), problem.level_count - 1)
    report = VqeReport()
    refined = refine_levels(tracker, start, device("aer-noisy", seed=0), report, iterations=10)
    assert report.blocks >= 1 and refined.key == tracker.best.key
    assert best_levels(problem, start.assignment).key <= refined.key <= start.key


def test_vqe_reads_program_qubits_from_where_the_device_layout_put_them():
    """On a device the transpiled ansatz spans all its physical qubits; readout follows the
    layout."""
    from qsched.solvers import vqe

    problem = generated(3, 1, 4, uniform_load=True)
    selection = LevelSelection(problem, np.zeros(3, dtype=np.int64))
    form = selection.to_qubo()
    circuit = device("fake_torino").pass_manager().run(vqe.ansatz(form.num_qubits))
    positions = circuit.layout.final_index_layout()
    assert circuit.num_qubits == 133 and len(positions) == form.num_qubits
    wanted = selection.solution(np.array([1]))
    bits = np.zeros(form.num_qubits, dtype=np.int64)
    bits[: wanted.size] = wanted
    measured = sum(int(b) << p for b, p in zip(bits, positions, strict=True)) | (
        1 << 132
    )  # noise on an idle qubit

    class Found:
        eigenstate = {measured: 1.0}

    assert vqe._readout(Found, form, selection, positions)[0].tolist() == [1]


def test_vqe_measures_only_the_program_qubits_so_a_device_simulates_them_alone():
    """SamplingVQE measures every qubit of the 133-qubit transpiled ansatz; a fake device's
    simulator cannot hold 133 qubits, so the sampler VQE gets measures the program's alone."""
    from qsched.solvers import vqe

    problem = generated(3, 1, 4, uniform_load=True)
    selection = LevelSelection(problem, np.zeros(3, dtype=np.int64))
    form = selection.to_qubo()
    fake = device("fake_torino", seed=0)
    circuit = fake.pass_manager().run(vqe.ansatz(form.num_qubits))
    positions = circuit.layout.final_index_layout()
    measured = circuit.measure_all(inplace=False)  # as SamplingVQE does
    start = vqe.warm_start(np.zeros(form.num_qubits))
    sampler = vqe.MeasuredQubits(fake.sampler(64), positions)
    counts = sampler.run([(measured, start)]).result()[0].data.meas.get_int_counts()
    assert sum(counts.values()) == 64
    program_bits = sum(1 << p for p in positions)
    assert all(z & ~program_bits == 0 for z in counts)
