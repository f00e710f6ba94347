"""The vectorized evaluator against a plain, obviously-correct reading of the rules, on random
problems."""

import math

import numpy as np
import pytest

from qsched.formats.generate import generate
from qsched.model.evaluate import evaluate
from qsched.model.problem import Problem


def oracle(problem: Problem, assignment, levels):
    """The rules of problem.proto, one machine and one instant at a time."""
    start, finish, busy_watts = {}, {}, {}
    busy = [0.0] * problem.num_machines
    for m in range(problem.num_machines):
        f = problem.frequency[m, levels[m]]
        scale = problem.dynamic_scale[m, levels[m]]
        clock = 0.0
        for t in sorted(
            (t for t in range(problem.num_tasks) if assignment[t] == m),
            key=lambda t: (problem.deadline[t], t),
        ):
            start[t] = clock
            clock += problem.etc[t, m] / f
            finish[t] = clock
            busy_watts[t] = problem.idle_watts[m] + scale * (
                problem.busy_watts[t, m] - problem.idle_watts[m]
            )
        busy[m] = clock
    makespan = max(finish.values())
    on = [busy[m] > 0 or problem.idle_machines_on for m in range(problem.num_machines)]

    def power(m, when):
        if not on[m]:
            return 0.0
        for t in range(problem.num_tasks):
            if assignment[t] == m and start[t] <= when < finish[t]:
                return busy_watts[t]
        return problem.idle_watts[m]

    instants = {0.0} | {finish[t] for t in finish}
    peak = max(
        sum(power(m, when) for m in range(problem.num_machines))
        for when in instants
        if when < makespan
    )
    energy = sum(
        sum(
            busy_watts[t] * problem.etc[t, m] / problem.frequency[m, levels[m]]
            for t in finish
            if assignment[t] == m
        )
        + problem.idle_watts[m] * (makespan - busy[m])
        for m in range(problem.num_machines)
        if on[m]
    )
    late = sum(finish[t] > problem.deadline[t] * (1 + 1e-9) for t in finish)
    return makespan, energy, peak, late


@pytest.mark.parametrize("seed", range(40))
def test_matches_the_oracle_on_random_schedules(seed):
    rng = np.random.default_rng(seed)
    message = generate(int(rng.integers(1, 9)), int(rng.integers(1, 5)), seed=seed)
    message.idle_machines_on = bool(seed % 3 == 0)
    problem = Problem.from_message(message)
    assignment = rng.integers(0, problem.num_machines, problem.num_tasks)
    levels = np.array([rng.integers(0, c) for c in problem.level_count])
    result = evaluate(problem, assignment, levels)
    makespan, energy, peak, late = oracle(problem, assignment, levels)
    assert result.makespan == pytest.approx(makespan, rel=1e-12)
    assert result.energy == pytest.approx(energy, rel=1e-9)
    assert result.peak_power == pytest.approx(peak, rel=1e-9)
    assert result.deadline_misses == late
    assert math.isclose(result.utilization, sum(result.busy) / (problem.num_machines * makespan))
