"""The compiled list-scheduling heuristics against the textbook algorithm, on random problems
full of ties and tight capacities, and their anytime behaviour under a budget."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qsched.model.evaluate import over_capacity
from qsched.model.problem import Problem
from qsched.model.solver import Budget
from qsched.search.construct import budgeted_schedule, heuristic_start
from qsched.search.list_scheduling import RULES, fastest_runtimes, list_schedule
from qsched.search.tracker import SolveTracker
from qsched.v1 import problem_pb2


def textbook(problem: Problem, rule: str) -> np.ndarray:
    """Braun et al.'s loop as written: every step ranks every unassigned task on every
    machine it fits (all machines if none), and picks by the rule; ties to lower indices."""
    runtime = fastest_runtimes(problem)
    ready = np.zeros(problem.num_machines)
    load = np.zeros_like(problem.capacity)
    unassigned = list(range(problem.num_tasks))
    assignment = np.full(problem.num_tasks, -1)
    while unassigned:
        ranked = []
        for task in unassigned:
            fits = ~over_capacity(load + problem.demand[task], problem.capacity).any(axis=1)
            candidates = np.flatnonzero(fits) if fits.any() else np.arange(problem.num_machines)
            completion = ready[candidates] + runtime[task, candidates]
            order = np.lexsort((candidates, completion))
            best, machine = completion[order[0]], candidates[order[0]]
            if problem.num_machines == 1:
                second = best
            else:
                second = completion[order[1]] if len(order) > 1 else np.inf
            ranked.append((task, machine, best, second))
        if rule == "min-min":
            task, machine, best, _ = min(ranked, key=lambda r: (r[2], r[0]))
        elif rule == "max-min":
            task, machine, best, _ = min(ranked, key=lambda r: (-r[2], r[0]))
        else:
            task, machine, best, _ = min(
                ranked, key=lambda r: (-(r[3] - r[2]) if np.isfinite(r[3]) else -np.inf, r[0])
            )
        assignment[task] = machine
        ready[machine] = best
        load[machine] += problem.demand[task]
        unassigned.remove(task)
    return assignment


def earliest_completion(problem: Problem) -> np.ndarray:
    """MCT as written: tasks in EDF order, each onto its earliest-completion fitting machine."""
    runtime = fastest_runtimes(problem)
    ready = np.zeros(problem.num_machines)
    load = np.zeros_like(problem.capacity)
    assignment = np.full(problem.num_tasks, -1)
    for task in np.argsort(problem.edf_rank):
        fits = ~over_capacity(load + problem.demand[task], problem.capacity).any(axis=1)
        candidates = np.flatnonzero(fits) if fits.any() else np.arange(problem.num_machines)
        completion = ready[candidates] + runtime[task, candidates]
        machine = candidates[np.lexsort((candidates, completion))[0]]
        assignment[task] = machine
        ready[machine] += runtime[task, machine]
        load[machine] += problem.demand[task]
    return assignment


def random_problem(seed: int, tasks: int, machines: int, resources: int) -> Problem:
    """Integer runtimes from a small range (many ties), capacities from roomy to too small
    for some tasks, some deadlines (MCT's order)."""
    rng = np.random.default_rng(seed)
    names = [f"r{k}" for k in range(resources)]
    message = problem_pb2.AllocationProblem(name="random")
    for j in range(machines):
        capacity = {name: float(rng.integers(1, 3 * tasks)) for name in names}
        message.machines.append(problem_pb2.Machine(id=f"m{j}", capacity=capacity))
    for i in range(tasks):
        etc = {f"m{j}": float(rng.integers(1, 5)) for j in range(machines)}
        demand = {name: float(rng.integers(0, 4)) for name in names}
        task = problem_pb2.Task(id=f"t{i}", etc=etc, demand=demand)
        if rng.random() < 0.3:
            task.deadline = float(rng.integers(1, 10))
        message.tasks.append(task)
    return Problem.from_message(message)


PROBLEMS = st.builds(
    random_problem,
    seed=st.integers(0, 2**32 - 1),
    tasks=st.integers(1, 14),
    machines=st.integers(1, 6),
    resources=st.integers(0, 2),
)


@settings(max_examples=150, derandomize=True, deadline=None)
@given(problem=PROBLEMS, rule=st.sampled_from(sorted(RULES)))
def test_each_rule_places_every_task_where_the_textbook_algorithm_does(problem, rule):
    assert list_schedule(problem, rule).tolist() == textbook(problem, rule).tolist()


@settings(max_examples=100, derandomize=True, deadline=None)
@given(problem=PROBLEMS)
def test_mct_places_each_task_in_deadline_order_on_its_earliest_completion_machine(problem):
    assert list_schedule(problem, "mct").tolist() == earliest_completion(problem).tolist()


@pytest.mark.parametrize("rule", sorted(RULES))
def test_the_textbook_agreement_holds_at_a_size_where_kept_machines_run_out(rule):
    """Hundreds of steps on a few dozen machines: tasks drop their kept machines and are
    ranked again many times."""
    problem = random_problem(7, tasks=300, machines=24, resources=1)
    assert list_schedule(problem, rule).tolist() == textbook(problem, rule).tolist()


def test_a_heuristic_stopped_by_its_budget_places_the_rest_by_mct():
    problem = random_problem(3, tasks=2000, machines=8, resources=1)
    stop = threading.Event()
    stop.set()
    tracker = SolveTracker(problem, Budget(stop=stop))
    assignment, finished = budgeted_schedule(tracker, "sufferage")
    assert not finished
    assert assignment.tolist() == list_schedule(problem, "mct").tolist()  # nothing else ran


def test_a_search_scores_mct_first_so_it_has_a_schedule_at_once():
    problem = random_problem(4, tasks=50, machines=5, resources=1)
    tracker = SolveTracker(problem, Budget(evaluations=10))
    start = heuristic_start(tracker, "min-min")
    assert [point.stage for point in tracker.trace][0] == "first"
    assert start.assignment.tolist() == list_schedule(problem, "min-min").tolist()


def test_a_tracker_stopped_before_any_schedule_answers_with_mct():
    problem = random_problem(5, tasks=30, machines=4, resources=1)
    stop = threading.Event()
    stop.set()
    result = SolveTracker(problem, Budget(stop=stop)).result("anything", completed=False)
    assert result.evaluation.assignment.tolist() == list_schedule(problem, "mct").tolist()
    assert result.trace[-1].stage == "fallback" and result.evaluations == 1
