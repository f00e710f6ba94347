"""The solver contract as checks, for any registered solver (as ``dimod.testing`` is for
samplers).

Every solver has the shape ``solve(problem, budget, seed, progress) -> Result``
(`qsched.model.solver`); these checks run one through the registry and assert what any
correct solver does, whatever it is (heuristic, exact or quantum):

- `check_schedule`: the answer is a complete schedule (one machine per task, one valid DVFS
  level per machine) whose metrics are exactly the one evaluator's, the trace ends at it, a
  bound it reports is below it; the progress events are the trace, each scores what the
  evaluator gives its schedule, and the best never gets worse (a feasible best stays
  feasible, a feasible objective never rises).
- `check_determinism`: the same seed and evaluation budget give the same answer.
- `check_evaluation_budget`: a solve never spends more evaluations than its budget.
- `check_feasibility`: where every schedule is feasible (the problem without resources,
  deadlines and power cap) the answer is; an exact solver run to its end finds a feasible
  schedule of a satisfiable problem (as every generated one is).
- `check_wall_budget`: a wall-time budget ends the solve within a grace.
- `check_stop`: a stop signal, set before the start or shortly after it, ends the solve
  within a grace, with a schedule.

`check_solver` runs them all. A broken promise raises `AssertionError` naming the check and
the solver. Without a problem, each check solves a small generated one
(`contract_problem`): the largest of `SIZES` that the solver accepts, so exact and quantum
solvers (qubit budgets) answer in moments. Timed checks first run the solver once untimed,
so that compiling its kernels is not counted against its budget.

A plugin author runs the kit in their own pytest suite, once the plugin's module (or its
``qsched.solvers`` entry point) has registered the solver::

    from qsched.testing.contract import check_solver, check_stop

    def test_my_solver_keeps_the_solver_contract():
        check_solver("my-solver", options={"sweeps": 10})

    def test_my_solver_stops_on_a_large_problem(large_problem):
        check_stop("my-solver", large_problem, grace=5.0)
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec

import numpy as np

from qsched.formats.generate import generate
from qsched.model import registry
from qsched.model.evaluate import Evaluation, evaluate
from qsched.model.problem import Problem, ProblemError
from qsched.model.registry import SolverKind, SolverSpec
from qsched.model.solver import Budget, ProgressEvent, Result, StopReason

#: A solver by registered name, or its spec.
Solver = str | SolverSpec
Options = Mapping[str, Any] | None

#: Tasks x machines of the generated contract problems, largest first: a solver's problem is
#: the first it accepts (a solver's own check refuses what is too large for it).
SIZES = ((4, 3), (4, 2), (3, 2), (2, 2), (2, 1), (1, 1))
#: Most tasks x machines of a quantum solver's contract problem: it simulates 2^qubits
#: amplitudes, at least one qubit per task and machine, so a problem its qubit budget still
#: allows may take it minutes.
QUANTUM_CELLS = 6
#: The seed of the generated contract problems.
PROBLEM_SEED = 1
#: The seed of the checked solves.
SEED = 7
#: Evaluation budget of the checked solves.
EVALUATIONS = 40
#: Wall-time budget of `check_wall_budget`.
SECONDS = 1.0
#: How long past its budget or stop a solve may still run: generous, for noisy machines.
GRACE_SECONDS = 3.0
#: When `check_stop` sets the stop signal after the start.
STOP_DELAY = 0.2
#: Relative slack for a reported bound above the answer's objective (float rounding).
BOUND_TOLERANCE = 1e-9

P = ParamSpec("P")


class ContractViolation(AssertionError):
    """One broken promise, named by `_require`; a check re-raises it naming itself and the
    solver."""


@dataclass(frozen=True)
class _Run:
    """One checked solve: its result, its progress events and the wall seconds it took."""

    result: Result
    events: tuple[ProgressEvent, ...]
    seconds: float


def _check(
    function: Callable[Concatenate[Solver, P], None],
) -> Callable[Concatenate[Solver, P], None]:
    """Make ``function`` a contract check: a violation becomes an `AssertionError` that names
    the check and the solver."""

    @functools.wraps(function)
    def check(solver: Solver, /, *args: P.args, **kwargs: P.kwargs) -> None:
        try:
            function(solver, *args, **kwargs)
        except ContractViolation as violation:
            raise AssertionError(
                f"{function.__name__}: solver {_spec(solver).name!r} {violation}"
            ) from None

    return check


def _require(condition: bool, violation: str) -> None:
    if not condition:
        raise ContractViolation(violation)


def _spec(solver: Solver) -> SolverSpec:
    return registry.get(solver) if isinstance(solver, str) else solver


def contract_problem(solver: Solver, options: Options = None) -> Problem:
    """The largest of the generated `SIZES` problems that ``solver`` accepts with ``options``
    (for a quantum solver, of at most `QUANTUM_CELLS` tasks x machines)."""
    spec = _spec(solver)
    quantum = spec.kind is SolverKind.QUANTUM
    for tasks, machines in SIZES:
        if quantum and tasks * machines > QUANTUM_CELLS:
            continue
        problem = Problem.from_message(generate(tasks, machines, PROBLEM_SEED))
        try:
            spec.check(problem, options or {})
        except ProblemError:
            continue
        return problem
    raise ValueError(f"solver {spec.name!r} accepts none of the contract problems; give one")


def _or_contract_problem(problem: Problem | None, solver: Solver, options: Options) -> Problem:
    return contract_problem(solver, options) if problem is None else problem


def unconstrained(problem: Problem) -> Problem:
    """``problem`` without resources, deadlines or power cap: every schedule of it is
    feasible."""
    return dataclasses.replace(
        problem,
        resources=(),
        demand=np.zeros((problem.num_tasks, 0)),
        capacity=np.zeros((problem.num_machines, 0)),
        deadline=np.full(problem.num_tasks, np.inf),
        power_cap=np.inf,
    )


def _solve(
    solver: Solver, problem: Problem, budget: Budget, *, seed: int = SEED, options: Options = None
) -> _Run:
    """Solve through the registry's checks, recording the progress events and the wall time
    (the options are checked before the clock starts); the answer must be a complete
    schedule, scored by the one evaluator, whatever the check."""
    spec = _spec(solver)
    checked = spec.check(problem, options or {})
    events: list[ProgressEvent] = []
    started = time.perf_counter()
    result = spec.run(problem, budget, seed, events.append, checked)
    run = _Run(result, tuple(events), time.perf_counter() - started)
    _require_schedule(spec, problem, result)
    return run


def _require_schedule(spec: SolverSpec, problem: Problem, result: Result) -> None:
    _require(isinstance(result, Result), f"returned {type(result).__name__}, not a Result")
    _require(result.solver == spec.name, f"named its result {result.solver!r}")
    answer = result.evaluation
    assignment, levels = np.asarray(answer.assignment), np.asarray(answer.levels)
    _require(
        assignment.shape == (problem.num_tasks,) and assignment.dtype.kind in "iu",
        f"answered an assignment of shape {assignment.shape} and type {assignment.dtype}, "
        f"not one machine index for each of the {problem.num_tasks} tasks",
    )
    _require(
        bool(np.all((assignment >= 0) & (assignment < problem.num_machines))),
        f"assigned a task to a machine outside [0, {problem.num_machines})",
    )
    _require(
        levels.shape == (problem.num_machines,)
        and levels.dtype.kind in "iu"
        and bool(np.all((levels >= 0) & (levels < problem.level_count))),
        "answered DVFS levels that are not one of each machine's levels",
    )
    _require_evaluator_agrees(answer, evaluate(problem, assignment, levels), "its answer")
    _require(bool(result.trace), "answered with an empty trace")
    last = result.trace[-1]
    _require(
        (last.objective, last.feasible) == (answer.objective, answer.feasible),
        f"ended its trace at objective {last.objective} (feasible: {last.feasible}), its answer "
        f"has {answer.objective} (feasible: {answer.feasible})",
    )
    if result.bound is not None and answer.feasible:
        _require(
            result.bound <= answer.objective + BOUND_TOLERANCE * abs(answer.objective),
            f"reported the bound {result.bound} above its feasible answer's objective "
            f"{answer.objective}",
        )


def _require_evaluator_agrees(claimed: Evaluation, truth: Evaluation, what: str) -> None:
    for field in dataclasses.fields(Evaluation):
        mine, evaluators = getattr(claimed, field.name), getattr(truth, field.name)
        _require(
            np.array_equal(mine, evaluators),
            f"reported {field.name} {mine} for {what}; the evaluator gives {evaluators}",
        )


@_check
def check_schedule(
    solver: Solver,
    problem: Problem | None = None,
    *,
    evaluations: int = EVALUATIONS,
    options: Options = None,
) -> None:
    """The answer is a complete schedule with the evaluator's metrics (as every check requires
    of every solve), and the progress events are the trace: each scores its schedule as the
    evaluator does, and the best so far never gets worse."""
    problem = _or_contract_problem(problem, solver, options)
    run = _solve(solver, problem, Budget(evaluations=evaluations), options=options)
    result = run.result
    _require(
        [event.point for event in run.events] == list(result.trace),
        "reported progress events that differ from its result's trace",
    )
    for event in run.events:
        truth = evaluate(problem, event.assignment, event.levels)
        _require(
            (event.point.objective, event.point.feasible) == (truth.objective, truth.feasible),
            f"reported progress at objective {event.point.objective} (feasible: "
            f"{event.point.feasible}) for a schedule the evaluator scores {truth.objective} "
            f"(feasible: {truth.feasible})",
        )
    for earlier, later in itertools.pairwise(result.trace):
        _require(
            later.elapsed >= earlier.elapsed and later.evaluations >= earlier.evaluations,
            "reported progress that goes back in time or in evaluations",
        )
        _require(
            later.feasible or not earlier.feasible,
            "reported an infeasible best after a feasible one",
        )
        _require(
            not earlier.feasible or later.objective <= earlier.objective,
            f"reported a feasible best of {later.objective} after one of {earlier.objective}",
        )
    _require(
        all(point.evaluations <= result.evaluations for point in result.trace),
        "traced more evaluations than its result counts",
    )


@_check
def check_determinism(
    solver: Solver,
    problem: Problem | None = None,
    *,
    evaluations: int = EVALUATIONS,
    seed: int = SEED,
    options: Options = None,
) -> None:
    """Two solves with the same seed and evaluation budget give the same schedule, objective,
    evaluation count, stop reason and bound."""
    problem = _or_contract_problem(problem, solver, options)
    budget = Budget(evaluations=evaluations)
    first, second = (
        _answer(_solve(solver, problem, budget, seed=seed, options=options).result)
        for _ in range(2)
    )
    for name, value in first.items():
        _require(
            second[name] == value,
            f"answered {name} {value}, then {second[name]}, for seed {seed} and "
            f"{evaluations} evaluations",
        )


def _answer(result: Result) -> dict[str, object]:
    """What a solve with the same seed and evaluation budget must give again."""
    return {
        "assignment": result.evaluation.assignment.tolist(),
        "levels": result.evaluation.levels.tolist(),
        "objective": result.evaluation.objective,
        "evaluations": result.evaluations,
        "stop reason": result.stop_reason.value,
        "bound": result.bound,
    }


@_check
def check_evaluation_budget(
    solver: Solver,
    problem: Problem | None = None,
    *,
    evaluations: int = EVALUATIONS,
    options: Options = None,
) -> None:
    """A solve with an evaluation budget spends at most that many evaluations."""
    problem = _or_contract_problem(problem, solver, options)
    result = _solve(solver, problem, Budget(evaluations=evaluations), options=options).result
    _require(
        result.evaluations <= evaluations,
        f"spent {result.evaluations} evaluations of a budget of {evaluations}",
    )


@_check
def check_feasibility(
    solver: Solver,
    problem: Problem | None = None,
    *,
    evaluations: int = EVALUATIONS,
    options: Options = None,
) -> None:
    """A problem without constraints gets a feasible answer; an exact solver run to its end
    answers ``problem``, which must have a feasible schedule (generated problems do), with a
    feasible one."""
    spec = _spec(solver)
    problem = _or_contract_problem(problem, spec, options)
    result = _solve(
        spec, unconstrained(problem), Budget(evaluations=evaluations), options=options
    ).result
    _require(result.evaluation.feasible, "answered a problem without constraints infeasibly")
    if spec.kind is SolverKind.EXACT:
        budget = Budget() if spec.finite else Budget(wall_seconds=SECONDS)
        result = _solve(spec, problem, budget, options=options).result
        _require(
            result.evaluation.feasible,
            f"ended ({result.stop_reason.value}) with an infeasible answer to a satisfiable "
            "problem",
        )


@_check
def check_wall_budget(
    solver: Solver,
    problem: Problem | None = None,
    *,
    seconds: float = SECONDS,
    grace: float = GRACE_SECONDS,
    evaluations: int = EVALUATIONS,
    options: Options = None,
) -> None:
    """A solve with a wall-time budget of ``seconds`` ends within ``grace`` seconds of it.
    ``evaluations``: the budget of the untimed warm-up solve."""
    problem = _or_contract_problem(problem, solver, options)
    _solve(solver, problem, Budget(evaluations=evaluations), options=options)
    run = _solve(solver, problem, Budget(wall_seconds=seconds), options=options)
    _require(
        run.seconds <= seconds + grace,
        f"took {run.seconds:.2f} s on a budget of {seconds} s (grace: {grace} s)",
    )


@_check
def check_stop(
    solver: Solver,
    problem: Problem | None = None,
    *,
    delay: float = STOP_DELAY,
    grace: float = GRACE_SECONDS,
    evaluations: int = EVALUATIONS,
    options: Options = None,
) -> None:
    """A stop signal set before the start ends the solve within ``grace`` seconds, as
    cancelled; one set ``delay`` seconds after the start ends it within ``grace`` seconds of
    that. Both still answer with a complete schedule. The solves' wall budgets
    outlast the grace, so only the stop ends them in time. ``evaluations``: the budget of the
    untimed warm-up solve."""
    problem = _or_contract_problem(problem, solver, options)
    _solve(solver, problem, Budget(evaluations=evaluations), options=options)
    patience = delay + 4 * grace

    stopped = threading.Event()
    stopped.set()
    run = _solve(solver, problem, Budget(wall_seconds=patience, stop=stopped), options=options)
    _require(
        run.seconds <= grace,
        f"took {run.seconds:.2f} s to answer a stop set before it started (grace: {grace} s)",
    )
    _require(
        run.result.stop_reason is StopReason.CANCELLED,
        f"gave the stop reason {run.result.stop_reason.value} for a stop set before it started",
    )

    stop = threading.Event()
    timer = threading.Timer(delay, stop.set)
    timer.start()
    try:
        run = _solve(solver, problem, Budget(wall_seconds=patience, stop=stop), options=options)
    finally:
        timer.cancel()
    _require(
        run.seconds <= delay + grace,
        f"took {run.seconds:.2f} s to answer a stop set after {delay} s (grace: {grace} s)",
    )


def check_solver(
    solver: Solver,
    problem: Problem | None = None,
    *,
    evaluations: int = EVALUATIONS,
    seconds: float = SECONDS,
    grace: float = GRACE_SECONDS,
    options: Options = None,
) -> None:
    """Every check on ``solver``: the evaluation budget both at the smallest budget (one
    evaluation) and at ``evaluations``; timed ones last, after the solver has warmed up."""
    problem = _or_contract_problem(problem, solver, options)
    check_schedule(solver, problem, evaluations=evaluations, options=options)
    check_determinism(solver, problem, evaluations=evaluations, options=options)
    for budget in sorted({1, evaluations}):
        check_evaluation_budget(solver, problem, evaluations=budget, options=options)
    check_feasibility(solver, problem, evaluations=evaluations, options=options)
    check_wall_budget(
        solver, problem, seconds=seconds, grace=grace, evaluations=evaluations, options=options
    )
    check_stop(solver, problem, grace=grace, evaluations=evaluations, options=options)
