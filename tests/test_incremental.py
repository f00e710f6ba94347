"""The incremental schedule against the one evaluator: every figure after long random move
sequences, and the compiled hill climb's contract (never worse, deterministic, exact budget)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qsched.formats.generate import generate
from qsched.model.evaluate import evaluate
from qsched.model.problem import Problem
from qsched.model.solver import Budget
from qsched.search.construct import repaired_start
from qsched.search.incremental.schedule import Schedule
from qsched.search.list_scheduling import list_schedule
from qsched.search.neighbourhood import hill_climb
from qsched.search.tracker import SolveTracker
from qsched.v1 import problem_pb2

FIGURES = ("makespan", "energy", "total_tardiness", "power_cap_excess", "peak_power")


def assert_agrees(schedule: Schedule) -> None:
    truth = evaluate(schedule.problem, schedule.assignment, schedule.levels)
    for name in FIGURES:
        mine, theirs = getattr(schedule, name), getattr(truth, name)
        assert math.isclose(mine, theirs, rel_tol=1e-9, abs_tol=1e-9), (name, mine, theirs)
    assert schedule.capacity_violations == truth.capacity_violations
    infeasible, violation, objective = schedule.key
    assert infeasible == (not truth.feasible)
    assert math.isclose(violation, truth.violation, rel_tol=1e-9, abs_tol=1e-12)
    assert math.isclose(objective, truth.objective, rel_tol=1e-9)


def tight(seed: int, tasks: int, machines: int) -> Problem:
    """A generated instance with halved memory and a lowered cap: moves break capacities,
    deadlines and the cap all the time; some machines stay on while idle."""
    message = generate(tasks, machines, seed)
    for machine in message.machines:
        machine.capacity["memory"] = max(1.0, machine.capacity["memory"] // 2)
    message.power_cap_watts *= 0.8
    message.idle_machines_on = seed % 2 == 0
    return Problem.from_message(message)


PROBLEMS = st.builds(
    tight, seed=st.integers(0, 1000), tasks=st.integers(1, 40), machines=st.integers(1, 7)
)


@settings(max_examples=60, derandomize=True, deadline=None)
@given(problem=PROBLEMS, seed=st.integers(0, 2**32 - 1))
def test_figures_follow_long_random_sequences_of_moves_swaps_and_level_changes(problem, seed):
    rng = np.random.default_rng(seed)
    schedule = Schedule(problem, list_schedule(problem, "mct"), problem.fastest_levels)
    assert_agrees(schedule)
    tasks, machines = problem.num_tasks, problem.num_machines
    for step in range(400):
        kind = rng.random()
        if kind < 0.2:
            machine = int(rng.integers(machines))
            schedule.set_level(machine, int(rng.integers(problem.level_count[machine])))
        elif kind < 0.5:
            schedule.swap(int(rng.integers(tasks)), int(rng.integers(tasks)))
        else:
            schedule.move(int(rng.integers(tasks)), int(rng.integers(machines)))
        if step % 50 == 0:
            assert_agrees(schedule)
    assert_agrees(schedule)


def test_one_machine_receiving_every_task_outgrows_its_room_and_is_laid_out_again():
    problem = Problem.from_message(generate(300, 30, 3))
    schedule = Schedule(problem, list_schedule(problem, "min-min"), problem.fastest_levels)
    for task in range(problem.num_tasks):
        schedule.move(task, 0)
    assert_agrees(schedule)
    assert (schedule.assignment == 0).all()


@pytest.mark.parametrize("tasks, machines, seed", [(60, 6, 1), (200, 12, 2), (30, 1, 3)])
def test_a_climb_is_never_worse_than_its_start_and_agrees_with_the_evaluator(tasks, machines, seed):
    problem = tight(seed, tasks, machines)
    schedule = Schedule(problem, list_schedule(problem, "min-min"), problem.fastest_levels)
    before = evaluate(problem, schedule.assignment, schedule.levels)
    generator = np.array([seed], dtype=np.uint64)
    for _ in range(5):
        schedule.climb(2000, generator)
        assert_agrees(schedule)
        after = evaluate(problem, schedule.assignment, schedule.levels)
        assert after.key <= before.key or math.isclose(after.objective, before.objective)
        before = after
    assert schedule.proposals == 10_000


def no_worse(after, before) -> bool:
    """``after.key <= before.key`` up to the incremental sums' rounding."""
    if after.feasible != before.feasible:
        return after.feasible
    if not math.isclose(after.violation, before.violation, rel_tol=1e-9, abs_tol=1e-12):
        return after.violation < before.violation
    return after.objective <= before.objective * (1 + 1e-9)


@pytest.mark.parametrize("tasks, machines, seed", [(60, 6, 2), (30, 5, 3)])
def test_every_accepted_proposal_is_no_worse_by_the_evaluator(tasks, machines, seed):
    """One proposal at a time from a feasible start under a binding power cap (no deadlines,
    so the cap decides), where the climb settles most candidates by bounds on the peak
    instead of sweeping it."""
    message = generate(tasks, machines, seed)
    for task in message.tasks:
        task.ClearField("deadline")
    problem = Problem.from_message(message)
    start = repaired_start(SolveTracker(problem, Budget()))
    assert start.feasible
    schedule = Schedule(problem, start.assignment, start.levels)
    generator = np.array([seed], dtype=np.uint64)
    before = start
    for _ in range(3000):
        schedule.climb(1, generator)
        after = evaluate(problem, schedule.assignment, schedule.levels)
        assert no_worse(after, before)
        before = after
    assert schedule.sweeps < schedule.proposals / 10


def test_how_a_climb_is_cut_into_calls_does_not_change_where_it_goes():
    problem = tight(4, 80, 8)
    start = list_schedule(problem, "min-min")
    whole = Schedule(problem, start, problem.fastest_levels)
    whole.climb(5000, np.array([9], dtype=np.uint64))
    pieces = Schedule(problem, start, problem.fastest_levels)
    generator = np.array([9], dtype=np.uint64)
    for size in (1, 999, 1000, 3000):
        pieces.climb(size, generator)
    assert whole.assignment.tolist() == pieces.assignment.tolist()
    assert whole.levels.tolist() == pieces.levels.tolist()


def test_hill_climb_spends_exactly_its_evaluation_budget_and_repeats_itself():
    problem = Problem.from_message(generate(120, 8, 5))

    def climb() -> tuple[list[int], int]:
        tracker = SolveTracker(problem, Budget(evaluations=12_345))
        start = tracker.evaluate(list_schedule(problem, "min-min"))
        hill_climb(tracker, start, np.random.default_rng(0))
        assert tracker.best is not None
        return tracker.best.assignment.tolist(), tracker.evaluations

    first, spent = climb()
    assert spent == 12_345
    assert climb() == (first, spent)


def test_a_problem_with_one_machine_and_one_level_has_nothing_to_climb():
    message = problem_pb2.AllocationProblem(
        name="single",
        machines=[problem_pb2.Machine(id="m", speed=1.0)],
        tasks=[problem_pb2.Task(id=f"t{i}", work=1.0 + i) for i in range(3)],
    )
    problem = Problem.from_message(message)
    tracker = SolveTracker(problem, Budget(evaluations=100))
    start = tracker.evaluate(np.zeros(3, dtype=np.int64))
    assert hill_climb(tracker, start, np.random.default_rng(0)) is start
