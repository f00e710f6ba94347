"""The task-allocation program and its QUBO: constraints, calibrated penalty, ground state."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from builders import generated, two_machine_problem

from qsched.model.problem import Problem
from qsched.model.solver import Budget
from qsched.search.construct import repaired_start
from qsched.search.tracker import SolveTracker
from qsched.solvers.allocation import TaskAllocation
from qsched.solvers.engine import cost_diagonal
from qsched.solvers.qaoa import encode
from qsched.solvers.window import sub_problem

INSTANCES = [(3, 2, 1), (4, 2, 2), (5, 2, 7), (4, 2, 5), (3, 3, 2)]  # 6 to 20 qubits


def brute_force(allocation: TaskAllocation, program):
    """Every assignment with whether it meets the program's constraints, and its objective."""
    for assignment in itertools.product(
        range(allocation.num_machines), repeat=allocation.num_tasks
    ):
        assignment = np.array(assignment)
        x = allocation.solution(assignment)
        yield assignment, program.is_feasible(x), program.objective.evaluate(x)


@pytest.mark.parametrize("shape", INSTANCES)
def test_qubo_ground_state_is_the_constrained_optimum(shape):
    allocation, form, _ = encode(generated(*shape))
    program = allocation.to_quadratic_program()
    feasible = [
        (value, assignment) for assignment, fits, value in brute_force(allocation, program) if fits
    ]
    optimum = min(value for value, _ in feasible)
    diagonal = cost_diagonal(form.arrays)
    ground = int(np.argmin(diagonal))
    x = ((ground >> np.arange(form.num_qubits)) & 1)[: allocation.num_variables]  # slack last
    assert program.is_feasible(x)
    assert diagonal[ground] == pytest.approx(optimum, rel=1e-9, abs=1e-12)
    assert any(
        np.array_equal(allocation.interpret(x), a)
        for value, a in feasible
        if value == pytest.approx(optimum, rel=1e-9)
    )


@pytest.mark.parametrize("shape", INSTANCES[:4])
def test_feasible_assignments_score_their_objective_and_infeasible_ones_more_than_the_optimum(
    shape,
):
    """Minimized over slack bits, the QUBO value of an assignment is its objective when it meets
    the constraints, and above the constrained optimum when it does not."""
    allocation, form, _ = encode(generated(*shape))
    cells = allocation.num_tasks * allocation.num_machines
    diagonal = cost_diagonal(form.arrays)
    states = np.arange(diagonal.size)
    x_part = states & ((1 << cells) - 1)
    best_over_slack = {}
    for x_bits, value in zip(x_part, diagonal, strict=True):
        best_over_slack[x_bits] = min(best_over_slack.get(x_bits, np.inf), value)
    outcomes = list(brute_force(allocation, allocation.to_quadratic_program()))
    optimum = min(value for _, fits, value in outcomes if fits)
    for assignment, fits, value in outcomes:
        x_bits = int(allocation.solution(assignment)[:cells] @ (1 << np.arange(cells)))
        if fits:
            assert best_over_slack[x_bits] == pytest.approx(value, rel=1e-9)
            assert value == pytest.approx(allocation.objective(assignment), rel=1e-9)
        else:
            assert best_over_slack[x_bits] > optimum


def test_penalty_is_calibrated_on_the_incumbent_not_a_fallback():
    allocation, form, start = encode(generated(5, 2, 7))
    assert allocation.to_quadratic_program().is_feasible(allocation.solution(start.assignment))
    assert allocation.objective(start.assignment) == pytest.approx(
        1.0
    )  # the incumbent sets the scale
    assert form.penalty == pytest.approx(1.05)  # (incumbent objective - lowest possible 0) + 5 %


def test_constraint_rows_are_integer_and_conservative():
    problem = generated(5, 3, 4)
    allocation, _, _ = encode(problem)
    program = allocation.to_quadratic_program()
    for constraint in program.linear_constraints:
        coefficients = constraint.linear.to_array()
        assert (
            np.array_equal(coefficients, np.rint(coefficients))
            and float(constraint.rhs).is_integer()
        )
    for assignment, fits, _ in brute_force(allocation, program):
        if fits:  # meets the rounded rows -> meets the real capacities
            load = np.zeros_like(problem.capacity)
            np.add.at(load, assignment, problem.demand)
            assert np.all(load <= problem.capacity + 1e-9)


def test_ising_form_gives_the_qubo_value_of_every_state():
    allocation, form, _ = encode(generated(3, 2, 1))
    operator, offset = allocation.qiskit_qubo().to_ising()
    diagonal = operator.to_matrix(sparse=True).diagonal().real + offset
    assert np.allclose(diagonal, cost_diagonal(form.arrays), atol=1e-9)


def test_interpret_marks_rows_that_are_not_one_hot():
    allocation = TaskAllocation(Problem.from_message(two_machine_problem()))
    x = np.array([1, 0, 1, 1, 0, 0])  # t0 -> A, t1 -> both, t2 -> none
    assert allocation.interpret(x).tolist() == [0, -1, -1]


def test_one_hot_groups_are_the_task_rows():
    allocation = TaskAllocation(Problem.from_message(two_machine_problem()))
    assert allocation.one_hot_groups() == [[0, 1], [2, 3], [4, 5]]
    assert [v.name for v in allocation.to_quadratic_program().variables[:6]] == [
        "x0_0",
        "x0_1",
        "x1_0",
        "x1_1",
        "x2_0",
        "x2_1",
    ]


def assert_same_qubo(allocation: TaskAllocation) -> None:
    """The builder's QUBO and qiskit-optimization's conversion of the program are one QUBO:
    every coefficient, the offset, the penalty and the number of qubits, up to rounding."""
    form, arrays = allocation.qiskit_qubo(), allocation.to_qubo()
    scale = np.abs(form.arrays.linear).max()
    assert arrays.num_qubits == form.num_qubits == allocation.num_qubits
    assert arrays.penalty == pytest.approx(form.penalty, rel=1e-12)
    assert np.allclose(arrays.arrays.linear, form.arrays.linear, rtol=1e-12, atol=1e-12 * scale)
    assert np.allclose(
        arrays.arrays.quadratic, form.arrays.quadratic, rtol=1e-12, atol=1e-12 * scale
    )
    assert arrays.arrays.constant == pytest.approx(form.arrays.constant, rel=1e-12)


@pytest.mark.parametrize("shape", [*INSTANCES, (5, 3, 4), (6, 2, 3)])
def test_the_converters_qubo_is_the_builders(shape):
    """Capacity rows with slack, and (in some of these) the power cap's rows."""
    allocation, _, _ = encode(generated(*shape))
    assert_same_qubo(allocation)


def test_the_converters_qubo_is_the_builders_for_a_window():
    """A window of a larger schedule: fixed work as base load, capacity left over."""
    problem = generated(16, 4, 3)
    start = repaired_start(SolveTracker(problem, Budget()))
    tasks, machines = np.array([0, 3, 5, 9, 12]), np.array([1, 2])
    levels = start.levels[machines]
    sub = sub_problem(problem, tasks, machines, problem.capacity[machines] * 0.6)
    allocation = TaskAllocation(
        sub, levels=levels, incumbent=np.array([0, 1, 1, 0, 1]), base_load=np.array([30.0, 12.0])
    )
    assert allocation.rows and any(name.startswith("capacity") for name, _ in allocation.rows)
    assert_same_qubo(allocation)


@pytest.mark.parametrize("shape", INSTANCES[:3])
def test_rows_and_objectives_of_many_assignments_are_the_programs(shape):
    allocation, _, _ = encode(generated(*shape))
    outcomes = list(brute_force(allocation, allocation.to_quadratic_program()))
    assignments = np.array([assignment for assignment, _, _ in outcomes])
    assert allocation.meet_rows(assignments).tolist() == [fits for _, fits, _ in outcomes]
    assert np.allclose(
        allocation.objectives(assignments), [value for _, _, value in outcomes], rtol=1e-12
    )
