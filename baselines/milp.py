"""The exact solver: a mixed-integer program solved by HiGHS.

Two models. Where the problem is an assignment and nothing more (no
deadlines, no power cap, energy exact at each machine's one level:
`assignment_is_exact`, the HCSP family), the assignment model of
`qsched.search.assignment_mip`, built from arrays in milliseconds at any size
up to `qsched.search.relaxation.MAX_CELLS`, warm-started from the rounded LP
relaxation. Otherwise the general model below, built in Pyomo, up to
`MAX_CELLS`:

Variables (T tasks, M machines, L_m DVFS levels of machine m):

- ``x[t,m]`` binary: task t runs on machine m (each task exactly once);
- ``y[m,l]`` binary: machine m runs at level l (exactly one level);
- ``z[t,m,l]`` in [0, 1]: task t on m at level l. ``sum_l z[t,m,l] = x[t,m]``
  and ``z[t,m,l] <= y[m,l]`` force ``z = x * y`` without a product;
- ``used[m]`` binary, ``>= x[t,m]``; ``makespan >= busy[m]`` where
  ``busy[m] = sum r[t,m,l] z[t,m,l]`` with runtime ``r = ETC / f``;
- ``on_span[m] >= makespan - U (1 - used[m])``: how long a used machine is on
  (it idles until the makespan), linearizing ``used * makespan`` with the
  makespan upper bound U (everything on the slowest choice).

Objective: ``energy_weight * energy + makespan_weight * makespan`` with energy
``sum r P z + sum_m idle[m] (on_span[m] - busy[m])`` (``on_span = makespan`` for
every machine when idle machines stay on), exactly the evaluator's energy.

Constraints: capacities ``sum_t demand x <= capacity``; deadlines under EDF,
exactly: if t runs on m, the runtimes of the tasks on m that come before it
in EDF order, plus its own, fit before its deadline (a big-M on ``x[t,m]``);
the power cap through ``peak[m] >= P[t,m,l] z[t,m,l]`` and ``sum peak <= cap``.
That cap model is exact when every task on a machine draws the same power
at a level (then power only falls after t = 0, when all used machines are
busy); with mixed task loads it is conservative (it may reject schedules
that meet the cap), the optimum is then of a restricted problem and no
bound is reported for the true one (fact ``model``).

HiGHS runs on one thread for the wall budget left after building the model,
starting after a Min-min schedule is evaluated, so a solve stopped early
still has an answer. "Stop" (and the end of the budget) is looked at
throughout: between the model's parts and before each deadline row while
Pyomo builds it, between batches of `CONSTRAINT_BATCH` rows while they are
handed to HiGHS (`StoppableHighs`), and in HiGHS's MIP interrupt callback
while it solves; HiGHS then ends with its incumbent, which the solver
returns (status ``interrupted``, stop reason ``cancelled``). HiGHS calls
that callback between its search steps, not inside its sub-MIP heuristics,
so it answers at its next search step, not at once.
An evaluation budget does not bound HiGHS (it evaluates two schedules: the
start and the incumbent); without a wall budget it runs until it proves
optimality, and then the same problem always gives the same schedule.
It reports the incumbent, the bound and the gap; the incumbent is scored
by the one evaluator like every other solver's schedule, and the bound, gap
and "proven optimal" are reported only when the evaluator agrees with HiGHS
(feasible, same objective).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Annotated, Any

import highspy
import numpy as np
import numpy.typing as npt
import pyomo.environ as pyo
from pyomo.contrib.solver.common.results import Results, TerminationCondition
from pyomo.contrib.solver.solvers import highs as pyomo_highs
from pyomo.contrib.solver.solvers.highs import Highs

from qsched.model.options import Option
from qsched.model.problem import FieldViolation, Problem
from qsched.model.registry import SolverKind, register
from qsched.model.solver import Budget, ProgressCallback, Result
from qsched.search.assignment_mip import AssignmentModel, Cells, solve_mip
from qsched.search.construct import heuristic_start
from qsched.search.list_scheduling import fastest_runtimes
from qsched.search.relaxation import MAX_CELLS as ASSIGNMENT_CELLS
from qsched.search.tracker import SolveTracker

#: HiGHS's integrality and constraint tolerance where deadline rows carry big-M
#: terms (without them HiGHS's default serves and is faster).
FEASIBILITY_TOLERANCE = 1e-9
#: Rows handed to HiGHS between two looks at "stop": few enough that a batch takes Pyomo a
#: fraction of a second, many enough that the looks cost nothing beside it.
CONSTRAINT_BATCH = 1000

ShouldStop = Callable[[], bool]


class Stopped(Exception):
    """Stop was set (or the budget ended) while the model was built or handed to HiGHS."""


class StoppableHighs(Highs):  # type: ignore[misc]  # Pyomo ships no type information
    """Pyomo's HiGHS interface, stoppable: ``give_up`` is looked at between batches of rows
    while the model is handed over (`Stopped` is raised), ``interrupt`` from HiGHS's MIP
    interrupt callback while it solves (HiGHS ends with its incumbent)."""

    give_up: ShouldStop
    interrupt: ShouldStop

    def __init__(
        self,
        give_up: ShouldStop | None = None,
        interrupt: ShouldStop | None = None,
        **options: Any,
    ):
        super().__init__(**options)
        # Pyomo runs __init__ again, with its own options only, when it takes a model: the
        # callables set first stay.
        if give_up is not None and interrupt is not None:
            self.give_up, self.interrupt = give_up, interrupt

    def add_constraints(self, cons: list[Any]) -> None:
        for first in range(0, len(cons), CONSTRAINT_BATCH):
            if self.give_up():
                raise Stopped
            super().add_constraints(cons[first : first + CONSTRAINT_BATCH])

    def _solve(self) -> Results:
        self._solver_model.cbMipInterrupt.subscribe(self._on_interrupt_check)
        results = super()._solve()
        if self._solver_model.getModelStatus() == highspy.HighsModelStatus.kInterrupt:
            results.termination_condition = TerminationCondition.interrupted
        return results

    def _on_interrupt_check(self, event: highspy.HighsCallbackEvent) -> None:
        if self.interrupt():
            event.interrupt()


class _WithoutInterruptWarning(logging.Filter):
    """Pyomo warns of an "unhandled" status when HiGHS was interrupted; `StoppableHighs`
    handles it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "kInterrupt" not in record.getMessage()


pyomo_highs.logger.addFilter(_WithoutInterruptWarning())


def runtimes(problem: Problem) -> npt.NDArray[np.float64]:
    """(T, M, L) seconds of each task on each machine at each level (nan where no level)."""
    seconds: npt.NDArray[np.float64] = problem.etc[:, :, None] / problem.frequency[None, :, :]
    return seconds


def task_power(problem: Problem) -> npt.NDArray[np.float64]:
    """(T, M, L) watts while each task runs on each machine at each level (nan where no level)."""
    tasks = np.arange(problem.num_tasks)[:, None, None]
    machines = np.arange(problem.num_machines)[None, :, None]
    levels = np.arange(problem.frequency.shape[1])[None, None, :]
    return problem.task_watts(tasks, machines, levels)


def power_cap_is_exact(problem: Problem) -> bool:
    """The cap model is exact when, per machine and level, all tasks draw the same power."""
    power = task_power(problem)
    return bool(
        np.all(np.isclose(np.nanmax(power, axis=0), np.nanmin(power, axis=0)) | np.isnan(power[0]))
    )


def build_model(problem: Problem, should_stop: ShouldStop = lambda: False) -> pyo.ConcreteModel:
    """The MILP described in the module docstring; raises `Stopped` as soon as ``should_stop``
    is true (looked at between parts and before each deadline row)."""
    r = runtimes(problem)
    tasks, machines = range(problem.num_tasks), range(problem.num_machines)
    pairs = [(m, level) for m in machines for level in range(problem.level_count[m])]
    triples = [(t, m, level) for t in tasks for m, level in pairs]
    horizon = float(np.nansum(np.nanmax(r, axis=(1, 2))))

    model = pyo.ConcreteModel(name=problem.name or "allocation")
    model.x = pyo.Var(tasks, machines, domain=pyo.Binary)
    model.y = pyo.Var(pairs, domain=pyo.Binary)
    model.z = pyo.Var(triples, bounds=(0, 1))
    model.used = pyo.Var(machines, domain=pyo.Binary)
    model.makespan = pyo.Var(bounds=(0, horizon))
    model.on_span = pyo.Var(machines, bounds=(0, horizon))
    busy = {
        m: sum(
            r[t, m, level] * model.z[t, m, level]
            for t in tasks
            for level in range(problem.level_count[m])
        )
        for m in machines
    }
    _add_assignment(model, problem, triples, busy, horizon)
    _add_capacities_and_deadlines(model, problem, r, should_stop)
    power = task_power(problem)
    if math.isfinite(problem.power_cap):
        _add_power_cap(model, problem, power, triples)
    energy = sum(
        r[t, m, level] * power[t, m, level] * model.z[t, m, level]
        for t, m, level in triples
        if power[t, m, level]
    ) + sum(
        problem.idle_watts[m] * (model.on_span[m] - busy[m])
        for m in machines
        if problem.idle_watts[m]
    )
    model.objective = pyo.Objective(
        expr=problem.energy_weight * energy + problem.makespan_weight * model.makespan
    )
    return model


def _add_assignment(
    model: pyo.ConcreteModel,
    problem: Problem,
    triples: list[tuple[int, int, int]],
    busy: dict[int, Any],
    horizon: float,
) -> None:
    """One machine per task, one level per machine, z = x * y, which machines are used, the
    makespan over their busy times, and how long each is on."""
    tasks, machines = range(problem.num_tasks), range(problem.num_machines)
    model.assign = pyo.Constraint(
        tasks, rule=lambda _, t: sum(model.x[t, m] for m in machines) == 1
    )
    model.one_level = pyo.Constraint(
        machines,
        rule=lambda _, m: sum(model.y[m, level] for level in range(problem.level_count[m])) == 1,
    )
    model.split = pyo.Constraint(
        tasks,
        machines,
        rule=lambda _, t, m: (
            sum(model.z[t, m, level] for level in range(problem.level_count[m])) == model.x[t, m]
        ),
    )
    model.level_link = pyo.Constraint(
        triples, rule=lambda _, t, m, level: model.z[t, m, level] <= model.y[m, level]
    )
    model.use = pyo.Constraint(tasks, machines, rule=lambda _, t, m: model.used[m] >= model.x[t, m])
    model.span = pyo.Constraint(machines, rule=lambda _, m: model.makespan >= busy[m])
    if problem.idle_machines_on:
        model.on = pyo.Constraint(machines, rule=lambda _, m: model.on_span[m] == model.makespan)
    else:
        model.on = pyo.Constraint(
            machines,
            rule=lambda _, m: model.on_span[m] >= model.makespan - horizon * (1 - model.used[m]),
        )


def _add_capacities_and_deadlines(
    model: pyo.ConcreteModel,
    problem: Problem,
    r: npt.NDArray[np.float64],
    should_stop: ShouldStop,
) -> None:
    """Summed demand within capacity, and EDF deadlines exactly (a big-M on x[t, m])."""
    tasks, machines = range(problem.num_tasks), range(problem.num_machines)
    model.capacity = pyo.Constraint(
        machines,
        range(len(problem.resources)),
        rule=lambda _, m, k: (
            sum(problem.demand[t, k] * model.x[t, m] for t in tasks) <= problem.capacity[m, k]
        ),
    )
    edf = np.argsort(problem.edf_rank)
    model.deadlines = pyo.ConstraintList()
    for position, t in enumerate(edf):
        if should_stop():
            raise Stopped
        if math.isfinite(problem.deadline[t]):
            earlier = edf[: position + 1]
            for m in machines:
                levels = range(problem.level_count[m])
                slack = float(sum(np.nanmax(r[e, m]) for e in earlier))
                finish = sum(
                    r[e, m, level] * model.z[e, m, level] for e in earlier for level in levels
                )
                model.deadlines.add(finish <= problem.deadline[t] + slack * (1 - model.x[t, m]))


def _add_power_cap(
    model: pyo.ConcreteModel,
    problem: Problem,
    power: npt.NDArray[np.float64],
    triples: list[tuple[int, int, int]],
) -> None:
    """Each machine's peak draw over its tasks (and idle power if it stays on) within the cap."""
    machines = range(problem.num_machines)
    model.peak = pyo.Var(machines, bounds=(0, None))
    model.peak_power = pyo.Constraint(
        triples,
        rule=lambda _, t, m, level: model.peak[m] >= power[t, m, level] * model.z[t, m, level],
    )
    if problem.idle_machines_on:
        model.idle_power = pyo.Constraint(
            machines, rule=lambda _, m: model.peak[m] >= problem.idle_watts[m]
        )
    model.cap = pyo.Constraint(expr=sum(model.peak[m] for m in machines) <= problem.power_cap)


def read_schedule(
    model: pyo.ConcreteModel, problem: Problem
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(assignment, levels) from the solved model's binaries."""
    x = np.array(
        [
            [pyo.value(model.x[t, m]) for m in range(problem.num_machines)]
            for t in range(problem.num_tasks)
        ]
    )
    levels = np.array(
        [
            max(range(problem.level_count[m]), key=lambda level: pyo.value(model.y[m, level]))
            for m in range(problem.num_machines)
        ]
    )
    return x.argmax(axis=1), levels


#: Largest problem (tasks x machines) the general MILP takes: it has a binary per cell, and
#: Pyomo builds the model in Python (the deadline rows alone hold tasks^2 x machines terms),
#: so past this a budget goes to building the model rather than to solving it. Problems the
#: assignment model states exactly (`assignment_is_exact`) are built from arrays instead, up
#: to `qsched.search.relaxation.MAX_CELLS`.
MAX_CELLS = 10_000


def assignment_is_exact(problem: Problem) -> bool:
    """Whether `qsched.search.assignment_mip`'s model is the whole problem: no deadlines, no
    power cap, and energy either not counted or priced exactly at the one level each machine
    has, with idle machines on (their idle draw is then the makespan's cost)."""
    energy_exact = problem.energy_weight == 0 or (
        bool((problem.level_count == 1).all())
        and (problem.idle_machines_on or not problem.idle_watts.any())
    )
    return (
        energy_exact and not np.isfinite(problem.deadline).any() and math.isinf(problem.power_cap)
    )


def check_milp(problem: Problem, options: Mapping[str, Any]) -> list[FieldViolation]:
    """Refuse problems whose model would take longer to build than any budget allows."""
    cells = problem.num_tasks * problem.num_machines
    limit = ASSIGNMENT_CELLS if assignment_is_exact(problem) else MAX_CELLS
    if cells <= limit:
        return []
    return [
        FieldViolation(
            "problem.tasks",
            f"{problem.num_tasks} tasks x {problem.num_machines} machines = {cells} binary "
            f"variables; milp takes at most {limit} for this problem"
            + (
                ""
                if limit == ASSIGNMENT_CELLS
                else f" ({ASSIGNMENT_CELLS} without deadlines, power cap or DVFS energy)"
            )
            + "; the heuristics and searches (min-min, tabu-search, matheuristic, ...) take "
            "any size",
        )
    ]


@register("milp", kind=SolverKind.EXACT, finite=True, check=check_milp)
def exact_milp(
    problem: Problem,
    budget: Budget,
    seed: int,
    progress: ProgressCallback | None = None,
    *,
    relative_gap: Annotated[
        float,
        Option(
            "HiGHS stops once its gap to the bound is this small",
            minimum=0,
            maximum=1,
            exclusive_maximum=True,
        ),
    ] = 1e-6,
) -> Result:
    """Exact MILP (HiGHS): time-limited, reports incumbent, bound and gap."""
    tracker = SolveTracker(problem, budget, progress)
    if assignment_is_exact(problem):
        return _assignment_milp(tracker, relative_gap)
    heuristic_start(tracker, "min-min")
    exact = not math.isfinite(problem.power_cap) or power_cap_is_exact(problem)
    facts: dict[str, Any] = {"model": "exact" if exact else "conservative power cap"}
    # Building and handing over stop at the budget's end too; HiGHS keeps its own time limit.
    solver = StoppableHighs(give_up=lambda: tracker.exhausted, interrupt=lambda: tracker.cancelled)
    try:
        model = build_model(problem, solver.give_up)
        facts.update(variables=model.nvariables(), constraints=model.nconstraints())
        solver.set_instance(model)
    except Stopped:  # the budget or a stop request came before HiGHS started
        return tracker.result("milp", completed=False, facts={**facts, "status": "not started"})
    time_limit = None if budget.wall_seconds is None else budget.wall_seconds - tracker.elapsed
    results = solver.solve(
        model,
        time_limit=time_limit,
        threads=1,
        rel_gap=relative_gap,
        solver_options={"mip_feasibility_tolerance": FEASIBILITY_TOLERANCE}
        if len(model.deadlines)
        else {},
        load_solutions=False,
        raise_exception_on_nonoptimal_result=False,
    )
    facts["status"] = results.termination_condition.name
    incumbent = None
    if results.incumbent_objective is not None:
        results.solution_loader.load_vars()
        incumbent = tracker.evaluate(*read_schedule(model, problem), stage="milp")
        facts["incumbent"] = results.incumbent_objective
    # The solver's answer counts only if the evaluator agrees with it.
    agreed = (
        incumbent is not None
        and incumbent.feasible
        and math.isclose(
            incumbent.objective, results.incumbent_objective, rel_tol=1e-6, abs_tol=1e-6
        )
    )
    bound = results.objective_bound
    proven = bound if exact and agreed and bound is not None and math.isfinite(bound) else None
    optimal = results.termination_condition == TerminationCondition.convergenceCriteriaSatisfied
    facts["proven_optimal"] = optimal and exact and agreed
    return tracker.result("milp", completed=optimal, bound=proven, facts=facts)


def _assignment_milp(tracker: SolveTracker, relative_gap: float) -> Result:
    """The assignment model over every cell, from arrays, warm-started from the rounded LP:
    HiGHS until it proves optimality or the budget ends."""
    problem = tracker.problem
    start = heuristic_start(tracker, "lp")
    facts: dict[str, Any] = {"model": "assignment"}
    if tracker.exhausted:
        return tracker.result("milp", completed=False, facts={**facts, "status": "not started"})
    runtimes = fastest_runtimes(problem)
    model = AssignmentModel(problem, runtimes, Cells.all(*runtimes.shape), integer=True)
    facts.update(variables=model.lp.num_col_, constraints=model.lp.num_row_)
    wall = tracker.budget.wall_seconds
    answer = solve_mip(
        model,
        start.assignment,
        nodes=None,
        seconds=None if wall is None else wall - tracker.elapsed,
        should_stop=lambda: tracker.cancelled,
        relative_gap=relative_gap,
    )
    facts["status"] = (
        "optimal" if answer.optimal else "interrupted" if tracker.cancelled else "time limit"
    )
    found = None
    if answer.values is not None:
        found = tracker.evaluate(model.schedule(answer.values, start.assignment), stage="milp")
        facts["incumbent"] = float(model.lp.col_cost_ @ answer.values)
    agreed = (
        found is not None
        and found.feasible
        and math.isclose(found.objective, facts["incumbent"], rel_tol=1e-6, abs_tol=1e-6)
    )
    bound = answer.bound if agreed and math.isfinite(answer.bound) else None
    facts["proven_optimal"] = answer.optimal and agreed
    return tracker.result("milp", completed=answer.optimal, bound=bound, facts=facts)
