"""Small hand-checkable problems for the tests."""

from __future__ import annotations

import numpy as np

from qsched.formats.generate import generate
from qsched.model import registry
from qsched.model.evaluate import Evaluation
from qsched.model.problem import Problem
from qsched.solvers.engine import Qubo
from qsched.v1 import problem_pb2


def random_qubo(n: int, seed: int, density: float = 0.5, integer: bool = False) -> Qubo:
    """A QUBO with normal weights on about ``density`` of the couplings (rounded x3 if
    ``integer``)."""
    rng = np.random.default_rng(seed)
    linear = rng.normal(size=n)
    quadratic = np.triu(rng.normal(size=(n, n)) * (rng.random((n, n)) < density), 1)
    if integer:
        linear, quadratic = np.rint(3 * linear), np.rint(3 * quadratic)
    return Qubo(linear, quadratic, float(rng.normal()))


def two_machine_problem(**fields) -> problem_pb2.AllocationProblem:
    """Three tasks, two machines, numbers chosen so every metric is easy by hand.

    Machine A: speed 2, 100 W idle / 200 W peak, DVFS levels f = 1 and f = 0.5.
    Machine B: speed 1, 50 W idle / 100 W peak, one level.
    Tasks (work, deadline): t0 (10, 8), t1 (4, none), t2 (6, 3).
    Objective: energy + 10 * makespan.
    """
    message = problem_pb2.AllocationProblem(
        name="hand",
        machines=[
            problem_pb2.Machine(
                id="A",
                speed=2.0,
                capacity={"memory": 6.0},
                linear_power=problem_pb2.LinearPower(idle_watts=100.0, peak_watts=200.0),
                dvfs_levels=[
                    problem_pb2.DvfsLevel(frequency=1.0),
                    problem_pb2.DvfsLevel(frequency=0.5),
                ],
            ),
            problem_pb2.Machine(
                id="B",
                speed=1.0,
                capacity={"memory": 8.0},
                linear_power=problem_pb2.LinearPower(idle_watts=50.0, peak_watts=100.0),
            ),
        ],
        tasks=[
            problem_pb2.Task(id="t0", work=10.0, deadline=8.0, demand={"memory": 2.0}),
            problem_pb2.Task(id="t1", work=4.0, demand={"memory": 2.0}),
            problem_pb2.Task(id="t2", work=6.0, deadline=3.0, demand={"memory": 4.0}),
        ],
        objective=problem_pb2.Objective(energy_weight=1.0, makespan_weight=10.0),
    )
    for name, value in fields.items():
        setattr(message, name, value)
    return message


def generated(num_tasks: int, num_machines: int, seed: int, uniform_load: bool = False) -> Problem:
    """A `qsched gen` instance as a Problem; ``uniform_load`` runs every task at full load
    (so a machine draws the same power whichever of its tasks runs)."""
    message = generate(num_tasks, num_machines, seed)
    if uniform_load:
        for task in message.tasks:
            task.ClearField("load")
    return Problem.from_message(message)


def exhaustive_optimum(problem: Problem) -> Evaluation:
    """The best schedule over every assignment and every level choice (tiny problems only)."""
    return registry.solve(problem, "exhaustive").evaluation
