"""The exact solver on Google OR-Tools CP-SAT: the MILP's model, in integers.

The model is `qsched.baselines.milp`'s (its docstring has the details), with
CP-SAT's own tools where they make it smaller:

- ``x[t,m]`` one-hot per task, ``y[m,l]`` one-hot per machine and
  ``z[t,m,l] = x[t,m] and y[m,l]`` (``sum_l z = x``, ``z => y``); a machine
  with one DVFS level has neither y nor z: its x serves as z;
- ``makespan >= busy[m] = sum R[t,m,l] z[t,m,l]`` with R the runtimes in time
  units; ``on[m] >= makespan`` when machine m is used (``x[t,m] => used[m]``):
  how long it draws idle power, only where it has idle power and idle
  machines go off (when they stay on, every machine is on for the makespan);
- capacities as in the MILP; EDF deadlines exactly, as rows enforced by
  ``x[t,m]`` (no big-M) on running sums of the work in EDF order, so the
  model grows with T·M·L, not with the T²·M·L of the MILP's rows;
- the power cap as the MILP's, ``peak[m] >= P[t,m,l] z[t,m,l]``,
  ``sum peak <= cap``: exact when every task on a machine draws the same
  power at a level, else conservative, and then no bound is reported (fact
  ``model``, as for the MILP).

Objective: the evaluator's ``energy_weight * energy + makespan_weight *
makespan``, with energy written as nonnegative terms only, ``sum r (P -
idle) z + sum idle[m] on[m]`` (the MILP's energy rearranged), so that
rounding each term by a relative amount rounds the sum by at most as much.

Integers. CP-SAT takes integer coefficients only. Times, watts and demands
are counted in units (`Scale`): the coarsest exact unit if there is one
not much finer than the resolution needs (a single weight, or decimal data
such as ETCs given to a few decimals: the Braun instances in datasets/ are
exact), else `RESOLUTION` times the smallest value, so that each value is
off by at most that fraction of itself. The objective
is counted in one time unit times one rate unit (`Units`): the makespan and
the on times, in time units, take the objective per second, in rate units,
as coefficients, and each dynamic-energy term is rounded on its own. Fact
``resolution`` is the largest relative error of any term, and so of the
objective (0: exact up to float rounding). The constraints are rounded the
safe way (runtimes, demands and watts up, limits down), so a schedule
CP-SAT accepts meets them by the evaluator's rules; at worst a schedule
that meets a deadline, a capacity or the cap only within the resolution is
left out. The bound is CP-SAT's, in objective units, divided by ``1 +
resolution``.

Budget. Like the MILP it scores the Min-min start first (so a solve
stopped early has an answer) and hints CP-SAT with it. Wall time left after
building the model is CP-SAT's ``max_time_in_seconds``; an evaluation
budget becomes its deterministic time limit
(`DETERMINISTIC_SECONDS_PER_EVALUATION` per evaluation left), and each
improved solution CP-SAT reports is scored by the one evaluator, counted
and sent as progress. A stop request ends the search within
`STOP_POLL_SECONDS` (a watcher thread calls CP-SAT's ``stop_search``), and
the incumbent is returned. With one worker CP-SAT is deterministic
(``random_seed`` is the seed), so the same problem, seed and evaluation
budget give the same schedule; more workers run CP-SAT's parallel
portfolio, which is not reproducible.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated, Any

import numpy as np
from ortools.sat.python import cp_model

from qsched.baselines.milp import power_cap_is_exact, runtimes, task_power
from qsched.model.evaluate import TOLERANCE, Evaluation
from qsched.model.options import Option
from qsched.model.problem import FieldViolation, Problem
from qsched.model.registry import SolverKind, register
from qsched.model.solver import Budget, ProgressCallback, Result, StopSignal
from qsched.search.construct import heuristic_start
from qsched.search.tracker import SolveTracker

#: Largest relative rounding error of a value in units, where no power of ten is exact.
RESOLUTION = 1e-6
#: Relative error below which a unit counts as exact (float noise of a decimal value).
EXACT = 1e-12
#: How much finer than `RESOLUTION` needs an exact unit may be (its integers that much
#: larger) and still be taken over an inexact one.
EXACT_REACH = 1000.0
#: Largest number of units the objective may reach (every task on its costliest choice,
#: every time variable at the horizon), far inside CP-SAT's 64-bit integers; time is
#: counted coarser where it would reach more.
MAX_UNITS = 2.0**50
#: CP-SAT deterministic seconds one evaluation of an evaluation budget buys (10,000
#: evaluations buy one): set so that an evaluation budget gives CP-SAT wall time of the
#: same order as it gives the metaheuristics.
DETERMINISTIC_SECONDS_PER_EVALUATION = 1e-4
#: How often the watcher looks at the stop signal while CP-SAT runs.
STOP_POLL_SECONDS = 0.02
#: Largest model cpsat takes, in task-machine-level literals (z, or x where a machine
#: has one level): every part of the model grows with them, and it is built in Python, so
#: past this a budget goes to building the model rather than to solving it.
MAX_LITERALS = 200_000


@dataclass(frozen=True)
class Scale:
    """How a quantity is counted in integers: ``unit`` of it per integer step, and the
    largest relative error (``error``) of a positive value rounded to the nearest step."""

    unit: float
    error: float

    def nearest(self, values: Any) -> np.ndarray:
        return np.rint(np.asarray(values, dtype=float) / self.unit).astype(np.int64)

    def up(self, values: Any) -> np.ndarray:
        """Rounded up, so the integer is never less than the value (float noise aside)."""
        steps = np.asarray(values, dtype=float) / self.unit
        return np.ceil(steps * (1 - EXACT)).astype(np.int64)

    def down(self, values: Any) -> np.ndarray:
        """Rounded down, so the integer never exceeds the value (float noise aside)."""
        steps = np.asarray(values, dtype=float) / self.unit
        return np.floor(steps * (1 + EXACT)).astype(np.int64)


def rounding_error(values: np.ndarray, unit: float) -> float:
    """Largest relative error of positive ``values`` rounded to the nearest multiple of
    ``unit``."""
    return float(np.max(np.abs(np.rint(values / unit) * unit - values) / values))


def scale(values: np.ndarray) -> Scale:
    """The unit to count ``values`` (nan and zeros ignored) in.

    The coarsest exact one, if there is one no finer than `EXACT_REACH` times what
    `RESOLUTION` needs: the smallest value (when every value is a multiple of it: a single
    objective weight) or a power of ten (decimal data); else `RESOLUTION` of the smallest
    value.
    """
    positive = values[np.isfinite(values) & (values > 0)]
    if positive.size == 0:
        return Scale(1.0, 0.0)
    smallest = float(positive.min())
    finest = 2 * RESOLUTION * smallest
    power = math.floor(math.log10(smallest))
    for unit in (smallest, *(10.0**p for p in range(power, -325, -1))):
        if unit < finest / EXACT_REACH:
            break
        if rounding_error(positive, unit) <= EXACT:
            return Scale(unit, 0.0)
    return Scale(finest, rounding_error(positive, finest))


@dataclass(frozen=True)
class Units:
    """The model's integers: time, the objective per second (of the makespan, of a
    machine's on time) and the objective itself, whose unit is one time unit at one
    rate unit, so that the makespan's and the idle energy's coefficients are the rates
    in rate units.

    The objective's total, every task on its costliest choice and every time variable at
    the horizon, stays within `MAX_UNITS`: where it would not, time is counted coarser.
    """

    time: Scale
    rate: Scale
    objective: Scale

    @classmethod
    def of(
        cls, runtimes: np.ndarray, horizon: float, rates: np.ndarray, dynamic: np.ndarray
    ) -> Units:
        """Units for ``runtimes`` (summing to at most ``horizon``), ``rates`` (objective per
        second of each time variable) and ``dynamic`` (each task-machine-level's objective
        term)."""
        time, rate = scale(runtimes), scale(rates)
        positive = dynamic[np.isfinite(dynamic) & (dynamic > 0)]
        if positive.size:  # the objective unit fine enough for the smallest dynamic term
            finest = 2 * RESOLUTION * float(positive.min()) / time.unit
            if rate.unit > finest:  # an integer fraction keeps the rates' multiples exact
                unit = rate.unit / math.ceil(rate.unit / finest)
                rate = Scale(unit, rounding_error(rates[rates > 0], unit))
        costliest = float(np.nansum(np.nanmax(dynamic, axis=(1, 2), initial=0.0)))
        total = (horizon * rates.sum() + costliest) / (time.unit * rate.unit)
        if total > MAX_UNITS:
            coarser = time.unit * total / MAX_UNITS
            time = Scale(coarser, rounding_error(runtimes[runtimes > 0], coarser))
        unit = time.unit * rate.unit
        return cls(
            time, rate, Scale(unit, rounding_error(positive, unit) if positive.size else 0.0)
        )

    @property
    def resolution(self) -> float:
        """Largest relative error of the integer objective against the evaluator's: each
        term is off by at most that fraction of itself."""
        timed = (1 + self.time.error) * (1 + self.rate.error) - 1
        return max(timed, self.objective.error)


Literal = Any  # a CP-SAT Boolean variable (cp_model.IntVar of domain [0, 1])


@dataclass
class Model:
    """The CP-SAT model and what reading and hinting its solutions need."""

    problem: Problem
    cp: cp_model.CpModel = field(default_factory=cp_model.CpModel)
    #: (T, M) x[t, m]
    x: list[list[Literal]] = field(default_factory=list)
    #: machine -> its y[m, l] (empty for a machine with one level)
    y: list[list[Literal]] = field(default_factory=list)
    #: machine -> level -> the T literals "task t runs on m at level l" (z, or x)
    runs: list[list[list[Literal]]] = field(default_factory=list)
    #: machine -> used[m], where the model needs it
    used: dict[int, Literal] = field(default_factory=dict)
    units: Units = Units(Scale(1.0, 0.0), Scale(1.0, 0.0), Scale(1.0, 0.0))
    exact: bool = True  # false where the power cap is conservative

    def hint(self, assignment: np.ndarray, levels: np.ndarray) -> None:
        """Hint every literal with the schedule (assignment, levels)."""
        for t, machine in enumerate(assignment):
            for m, literal in enumerate(self.x[t]):
                self.cp.add_hint(literal, bool(m == machine))
        for m, choices in enumerate(self.y):
            for level, literal in enumerate(choices):
                self.cp.add_hint(literal, bool(level == levels[m]))
                for t, runs in enumerate(self.runs[m][level]):
                    self.cp.add_hint(runs, bool(assignment[t] == m and level == levels[m]))
        for m, literal in self.used.items():
            self.cp.add_hint(literal, bool(np.any(assignment == m)))

    @cached_property
    def _indices(self) -> tuple[np.ndarray, list[np.ndarray]]:
        """Proto indices of x (T, M) and of each machine's y."""
        x = np.array([[literal.index for literal in row] for row in self.x], dtype=np.int64)
        return x, [np.array([v.index for v in ys], dtype=np.int64) for ys in self.y]

    def schedule(self, values: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(assignment, levels) from a solution's variable values (by proto index)."""
        solution = np.asarray(values)
        x, y = self._indices
        levels = [int(np.argmax(solution[ys])) if ys.size else 0 for ys in y]
        return solution[x].argmax(axis=1), np.array(levels)


def build_model(problem: Problem) -> Model:
    """The model described in the module docstring."""
    r, power = runtimes(problem), task_power(problem)
    horizon = float(np.nansum(np.nanmax(r, axis=(1, 2))))
    # The objective's terms: per task-machine-level (dynamic energy), per second of the
    # makespan, per second each machine that goes off when unused is on (idle energy).
    dynamic = problem.energy_weight * r * (power - problem.idle_watts[None, :, None])
    idle = problem.energy_weight * problem.idle_watts
    per_makespan = problem.makespan_weight + (idle.sum() if problem.idle_machines_on else 0.0)
    spans = np.zeros_like(idle) if problem.idle_machines_on else idle
    units = Units.of(r, horizon, np.append(spans, per_makespan), dynamic)
    model = Model(problem, units=units)
    _add_assignment(model)
    end = int(units.time.up(horizon))
    makespan = model.cp.new_int_var(0, end, "makespan")
    for m, levels in enumerate(model.runs):
        busy = [(units.time.nearest(r[:, m, level]), runs) for level, runs in enumerate(levels)]
        model.cp.add(makespan >= _weighted(busy))
    _add_capacities(model)
    _add_deadlines(model, r)
    if math.isfinite(problem.power_cap):
        _add_power_cap(model, power)
        model.exact = power_cap_is_exact(problem)
    objective = _weighted(
        [
            (units.objective.nearest(np.nan_to_num(dynamic[:, m, level])), runs)
            for m, levels in enumerate(model.runs)
            for level, runs in enumerate(levels)
        ]
    )
    objective += int(units.rate.nearest(per_makespan)) * makespan
    for machine in np.flatnonzero(spans > 0):
        objective += int(units.rate.nearest(spans[machine])) * _on_time(
            model, int(machine), makespan, end
        )
    model.cp.minimize(objective)
    return model


def _weighted(terms: list[tuple[np.ndarray, list[Literal]]]) -> Any:
    """sum coefficient * literal over (coefficients, literals) pairs, zeros left out."""
    pairs = [(int(c), v) for cs, vs in terms for c, v in zip(cs, vs, strict=True) if c]
    return cp_model.LinearExpr.weighted_sum([v for _, v in pairs], [c for c, _ in pairs])


def _add_assignment(model: Model) -> None:
    """x one-hot per task; y one-hot per machine; z = x and y where a machine has levels."""
    problem, cp = model.problem, model.cp
    tasks, machines = range(problem.num_tasks), range(problem.num_machines)
    model.x = [[cp.new_bool_var(f"x[{t},{m}]") for m in machines] for t in tasks]
    for row in model.x:
        cp.add_exactly_one(row)
    for m in machines:
        count = int(problem.level_count[m])
        if count == 1:
            model.y.append([])
            model.runs.append([[model.x[t][m] for t in tasks]])
            continue
        y = [cp.new_bool_var(f"y[{m},{level}]") for level in range(count)]
        cp.add_exactly_one(y)
        z = [[cp.new_bool_var(f"z[{t},{m},{level}]") for t in tasks] for level in range(count)]
        for t in tasks:
            cp.add(sum(z[level][t] for level in range(count)) == model.x[t][m])
            for level in range(count):
                cp.add_implication(z[level][t], y[level])
        model.y.append(y)
        model.runs.append(z)


def _add_capacities(model: Model) -> None:
    """Summed demand within capacity (demands rounded up, capacities down, per resource)."""
    problem = model.problem
    for k in range(len(problem.resources)):
        demand = problem.demand[:, k]
        capacity = problem.capacity[:, k] * (1 + TOLERANCE) + TOLERANCE
        units = scale(demand)
        for m in range(problem.num_machines):
            if demand.sum() > capacity[m]:
                column = [model.x[t][m] for t in range(problem.num_tasks)]
                model.cp.add(
                    _weighted([(units.up(demand), column)]) <= int(units.down(capacity[m]))
                )


def _add_deadlines(model: Model, r: np.ndarray) -> None:
    """If t runs on m, the work on m up to t in EDF order (runtimes rounded up) ends by t's
    deadline: a running sum per machine, cut at each task with a deadline."""
    problem, cp = model.problem, model.cp
    edf = np.argsort(problem.edf_rank)
    due = [t for t in edf if math.isfinite(problem.deadline[t])]
    if not due:
        return
    work = model.units.time.up(np.nan_to_num(r))
    deadlines = model.units.time.down(problem.deadline[due] * (1 + TOLERANCE))
    for m, levels in enumerate(model.runs):
        ceiling = int(work[:, m].max(axis=1).sum())
        previous, start = None, 0
        for t, deadline in zip(due, deadlines, strict=True):
            end = int(problem.edf_rank[t]) + 1
            segment = [
                (work[edf[start:end], m, level], [runs[e] for e in edf[start:end]])
                for level, runs in enumerate(levels)
            ]
            finish = cp.new_int_var(0, ceiling, f"finish[{t},{m}]")
            cp.add(finish == _weighted(segment) + (previous if previous is not None else 0))
            cp.add(finish <= int(deadline)).only_enforce_if(model.x[t][m])
            previous, start = finish, end


def _add_power_cap(model: Model, power: np.ndarray) -> None:
    """Each machine's peak over its tasks (and idle power if it stays on) within the cap."""
    problem, cp = model.problem, model.cp
    cap = problem.power_cap * (1 + TOLERANCE)
    watts = scale(power)
    draw = watts.up(np.nan_to_num(power))
    idle = (
        watts.up(problem.idle_watts) if problem.idle_machines_on else np.zeros_like(draw[0, :, 0])
    )
    peaks = []
    for m, levels in enumerate(model.runs):
        floor = int(idle[m])
        peak = cp.new_int_var(floor, max(floor, int(draw[:, m].max())), f"peak[{m}]")
        for level, runs in enumerate(levels):
            for t, literal in enumerate(runs):
                if draw[t, m, level] > floor:
                    cp.add(peak >= int(draw[t, m, level])).only_enforce_if(literal)
        peaks.append(peak)
    cp.add(sum(peaks) <= int(watts.down(cap)))


def _on_time(model: Model, m: int, makespan: Any, end: int) -> Any:
    """How long machine m is on (idle machines off): the makespan if a task runs on it."""
    model.used[m] = used = model.cp.new_bool_var(f"used[{m}]")
    for row in model.x:
        model.cp.add_implication(row[m], used)
    on = model.cp.new_int_var(0, end, f"on[{m}]")
    model.cp.add(on >= makespan).only_enforce_if(used)
    return on


class _Incumbents(cp_model.CpSolverSolutionCallback):
    """Scores each solution CP-SAT reports (progress, trace, budget), stops CP-SAT once the
    budget is spent."""

    def __init__(self, model: Model, tracker: SolveTracker):
        super().__init__()
        self.model = model
        self.tracker = tracker
        self.last: Evaluation | None = None
        self.solutions = 0

    def on_solution_callback(self) -> None:
        self.solutions += 1
        self.last = self.tracker.evaluate(
            *self.model.schedule(self.response_proto.solution), stage="cpsat"
        )
        if self.tracker.exhausted:
            self.stop_search()


@contextmanager
def _stop_watch(solver: cp_model.CpSolver, stop: StopSignal | None) -> Iterator[None]:
    """While in the block, stop ``solver`` within `STOP_POLL_SECONDS` of a stop request
    (CP-SAT calls back only on new solutions, which may be far apart)."""
    if stop is None:
        yield
        return
    done = threading.Event()

    def watch() -> None:
        while not done.wait(STOP_POLL_SECONDS):
            if stop.is_set():
                solver.stop_search()  # again each poll: a request before solve() starts

    watcher = threading.Thread(target=watch, name="cpsat-stop", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()


def _solver(
    tracker: SolveTracker, seed: int, workers: int, relative_gap: float
) -> cp_model.CpSolver:
    """A CP-SAT solver with the budget left (see the module docstring) and the options."""
    solver = cp_model.CpSolver()
    parameters = solver.parameters
    parameters.num_workers = workers
    parameters.random_seed = seed % (1 << 31)
    parameters.relative_gap_limit = relative_gap
    budget = tracker.budget
    if budget.wall_seconds is not None:
        parameters.max_time_in_seconds = max(budget.wall_seconds - tracker.elapsed, 1e-3)
    if budget.evaluations is not None:
        parameters.max_deterministic_time = (
            tracker.evaluations_left * DETERMINISTIC_SECONDS_PER_EVALUATION
        )
    return solver


def literal_count(problem: Problem) -> int:
    """Task-machine-level literals of the model: z, or x where a machine has one level."""
    return problem.num_tasks * int(problem.level_count.sum())


def check_cpsat(problem: Problem, options: Mapping[str, Any]) -> list[FieldViolation]:
    """Refuse problems whose model would take longer to build than any budget allows."""
    size = literal_count(problem)
    if size <= MAX_LITERALS:
        return []
    return [
        FieldViolation(
            "problem.tasks",
            f"{problem.num_tasks} tasks x {problem.num_machines} machines x their DVFS levels "
            f"= {size} binary variables; cpsat takes at most {MAX_LITERALS}; the heuristics "
            "and searches (min-min, local-search, ...) take any size",
        )
    ]


@register("cpsat", kind=SolverKind.EXACT, finite=True, check=check_cpsat)
def exact_cpsat(
    problem: Problem,
    budget: Budget,
    seed: int,
    progress: ProgressCallback | None = None,
    *,
    workers: Annotated[
        int,
        Option("CP-SAT search workers (threads); 1 is reproducible", minimum=1),
    ] = 1,
    relative_gap: Annotated[
        float,
        Option(
            "CP-SAT stops once its gap to the bound is this small",
            minimum=0,
            maximum=1,
            exclusive_maximum=True,
        ),
    ] = 1e-6,
) -> Result:
    """Exact CP-SAT (OR-Tools) on the MILP's model: time-limited, reports incumbent, bound
    and gap; parallel with workers > 1."""
    tracker = SolveTracker(problem, budget, progress)
    heuristic_start(tracker, "min-min")
    model = build_model(problem)
    facts: dict[str, Any] = {
        "model": "exact" if model.exact else "conservative power cap",
        "variables": len(model.cp.proto.variables),
        "constraints": len(model.cp.proto.constraints),
        "resolution": model.units.resolution,
        "workers": workers,
    }
    if tracker.exhausted:  # starting and building took the whole budget
        return tracker.result("cpsat", completed=False, facts={**facts, "status": "not started"})
    assert tracker.best is not None
    model.hint(tracker.best.assignment, tracker.best.levels)
    solver = _solver(tracker, seed, workers, relative_gap)
    incumbents = _Incumbents(model, tracker)
    with _stop_watch(solver, budget.stop):
        status = solver.solve(model.cp, incumbents)
    return _result(tracker, model, solver, status, incumbents, facts)


def _result(
    tracker: SolveTracker,
    model: Model,
    solver: cp_model.CpSolver,
    status: Any,
    incumbents: _Incumbents,
    facts: dict[str, Any],
) -> Result:
    """The best schedule, with CP-SAT's incumbent, bound and gap where the evaluator agrees
    with CP-SAT's objective (to the resolution)."""
    facts["status"] = solver.status_name(status)
    facts["solutions"] = incumbents.solutions
    facts["deterministic_time"] = solver.deterministic_time
    unit, resolution = model.units.objective.unit, model.units.resolution
    incumbent = incumbents.last
    found = status in (cp_model.OPTIMAL, cp_model.FEASIBLE) and incumbent is not None
    if found:
        facts["incumbent"] = float(solver.objective_value * unit)
    agreed = (
        found
        and incumbent is not None
        and incumbent.feasible
        and math.isclose(
            incumbent.objective,
            facts["incumbent"],
            rel_tol=resolution + 1e-9,
            abs_tol=1e-6,
        )
    )
    optimal = status == cp_model.OPTIMAL
    bound = float(solver.best_objective_bound * unit / (1 + resolution)) if agreed else None
    proven = bound if model.exact and bound is not None and math.isfinite(bound) else None
    facts["proven_optimal"] = optimal and model.exact and agreed
    completed = optimal or status == cp_model.INFEASIBLE
    return tracker.result("cpsat", completed=completed, bound=proven, facts=facts)
