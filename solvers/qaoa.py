"""The `qaoa` solver: QUBO -> QAOA -> samples -> repaired, polished schedules -> VQE levels.

1. Start: Min-min, repaired (capacity, then DVFS steps down while over the
   power cap). Its levels are the levels the QUBO is built at, and its
   assignment calibrates the penalty (`allocation.TaskAllocation`).
2. QAOA: ``depth`` layers, XY mixer on each task's one-hot row started from
   the start's assignment (a warm start inside the feasible one-hot space) or
   the X mixer from |+>. Angles: depth-by-depth COBYLA with INTERP warm
   starts on the engine's exact expectation (`parameters.optimize`). On the
   ``engine`` backend the final state is sampled directly; on a circuit
   backend the transpiled circuit is re-bound for ``backend_iterations``
   further COBYLA steps on the sampled mean cost, then sampled.
3. Decode: each distinct sample (most frequent first) -> assignment (a task
   whose row is not one-hot keeps its start machine) -> repair -> evaluator.
4. Keep the best ``candidates`` distinct schedules and polish each with
   ``polish_steps`` local-search steps on the true objective.
5. VQE: choose the best polished candidate's DVFS levels (`vqe.refine_levels`).
6. The best schedule the evaluator saw is the answer.

Problems whose QUBO needs more qubits than the backend takes are refused
with a field violation before anything runs (``problem.tasks``):
decomposing large problems into sub-QUBOs is not part of this solver.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

import numpy as np

from qsched.baselines.greedy import greedy_start
from qsched.baselines.operators import hill_climb, levels_by_power, repair
from qsched.evaluate import Evaluation
from qsched.problem import FieldViolation, Problem
from qsched.registry import SolverKind, register
from qsched.solver import Budget, ProgressCallback, Result, Search
from qsched.solvers import backends
from qsched.solvers.allocation import TaskAllocation
from qsched.solvers.circuit import TranspiledQaoa
from qsched.solvers.engine import QaoaEngine, basis_bits, reorder_free_first
from qsched.solvers.parameters import Optimized, optimize
from qsched.solvers.qubo import QuboForm
from qsched.solvers.vqe import VqeReport, refine_levels

MIXERS = ("xy", "x")
#: Widest block of the VQE level program (machines are refined in blocks that fit).
VQE_QUBITS = 14


def start_schedule(search: Search) -> Evaluation:
    """Min-min, repaired: the warm start and the QUBO's reference schedule."""
    start = greedy_start(search, "min-min")
    return repair(search, start.assignment, start.levels, levels_by_power(search.problem), stage="start")


#: Smallest allowed value of the solver's counting options (``options.<name>``).
OPTION_MINIMUMS = {"depth": 1, "shots": 1, "candidates": 1, "optimizer_evaluations": 1, "backend_iterations": 0, "polish_steps": 0, "vqe_iterations": 1, "max_qubits": 0}


def qubit_budget(backend: str, max_qubits: int) -> int:
    """The backend's qubit limit, or ``max_qubits`` when that is lower (0: the backend's)."""
    limit = backends.device(backend).max_qubits
    return min(max_qubits, limit) if max_qubits else limit


def range_violations(options: dict[str, Any], minimums: dict[str, int]) -> list[FieldViolation]:
    """``options.<name>`` below its minimum (the registry has checked the types)."""
    return [FieldViolation(f"options.{name}", f"must be >= {low}") for name, low in minimums.items() if options.get(name, low) < low]


def check_qaoa(problem: Problem, options: dict[str, Any]) -> list[FieldViolation]:
    """Refuse an unknown backend or mixer, out-of-range counts, and problems whose QUBO exceeds the qubit budget."""
    violations = range_violations(options, OPTION_MINIMUMS)
    if options.get("mixer", "xy") not in MIXERS:
        violations.append(FieldViolation("options.mixer", f"must be one of {', '.join(MIXERS)}"))
    backend = options.get("backend", "engine")
    try:
        budget = qubit_budget(backend, options.get("max_qubits", 0))
    except backends.BackendError as error:
        violations.append(FieldViolation("backend", str(error)))
    if violations:
        return violations
    return qubit_violations(problem, budget, f"backend {backend!r}")


def qubit_violations(problem: Problem, budget: int, taker: str) -> list[FieldViolation]:
    """A violation of ``problem.tasks`` when the QUBO needs more than ``budget`` qubits (it has at
    least one per task and machine, so larger problems are refused without building it)."""
    cells = problem.num_tasks * problem.num_machines
    qubits = cells if cells > budget else encode(problem)[1].num_qubits
    if qubits <= budget:
        return []
    return [FieldViolation("problem.tasks", f"{problem.num_tasks} tasks x {problem.num_machines} machines need {qubits} qubits; {taker} takes at most {budget}; classical solvers (local-search, milp, ...) take any size")]


def encode(problem: Problem, search: Search | None = None) -> tuple[TaskAllocation, QuboForm, Evaluation]:
    """The allocation program at the start schedule's levels, its QUBO, and the start."""
    start = start_schedule(search or Search(problem, Budget()))
    allocation = TaskAllocation(problem, levels=start.levels, reference=start.assignment)
    return allocation, allocation.to_qubo(), start


@register("qaoa", kind=SolverKind.QUANTUM, finite=True, backends=backends.BACKEND_NAMES, check=check_qaoa)
def qaoa(
    problem: Problem,
    budget: Budget,
    seed: int,
    progress: ProgressCallback | None = None,
    *,
    backend: str = "engine",
    depth: int = 2,
    mixer: str = "xy",
    shots: int = 1024,
    candidates: int = 8,
    optimizer_evaluations: int = 60,
    backend_iterations: int = 10,
    polish_steps: int = 300,
    vqe: bool = True,
    vqe_iterations: int = 60,
    max_qubits: int = 0,
) -> Result:
    """QAOA on the task-allocation QUBO, decoded, repaired and polished, then VQE on the DVFS levels."""
    search = Search(problem, budget, progress)
    device = backends.device(backend, seed)
    allocation, form, start = encode(problem, search)
    groups = allocation.one_hot_groups() if mixer == "xy" else None
    initial = allocation.start_state(start.assignment, form.num_qubits) if groups else None
    facts: dict[str, Any] = {"backend": device.name, "qubits": form.num_qubits, "depth": depth, "mixer": mixer, "penalty": form.penalty, "shots": shots}

    timer = _StageTimer(search, facts)
    with timer("qaoa"):
        counts = _run_qaoa(form, groups, initial, device, depth, shots, optimizer_evaluations, backend_iterations, seed, facts)
    with timer("decode"):
        decoded = _decode(search, allocation, form, counts, start, facts)
    rng = np.random.default_rng(seed)
    with timer("polish"):
        finalists = [hill_climb(search, c, rng, polish_steps, stage="polish") for c in _best_distinct(decoded, candidates)]
    if vqe and not search.exhausted:
        report = VqeReport()
        with timer("vqe"):
            best = min(finalists, key=lambda e: e.key)
            refine_levels(search, best, device, report, max_qubits=min(VQE_QUBITS, qubit_budget(backend, max_qubits)), iterations=vqe_iterations)
        facts.update({f"vqe_{name}": value for name, value in vars(report).items()})
    facts["start_objective"] = start.objective
    return search.result("qaoa", completed=not search.exhausted, facts=facts)


class _StageTimer:
    """Records each stage's wall time in the facts as ``seconds_<stage>``."""

    def __init__(self, search: Search, facts: dict[str, Any]):
        self.search = search
        self.facts = facts

    @contextmanager
    def __call__(self, stage: str):
        started = self.search.elapsed
        try:
            yield
        finally:
            self.facts[f"seconds_{stage}"] = round(self.search.elapsed - started, 4)


class EngineQaoa:
    """QAOA on the built-in engine for one QUBO, with samples in the QUBO's own qubit order
    (with the XY mixer the engine numbers the slack qubits first, `reorder_free_first`)."""

    def __init__(self, form: QuboForm, groups: list[list[int]] | None = None, initial: np.ndarray | None = None):
        if groups is None:
            self.engine, self.order = QaoaEngine(form.arrays), np.arange(form.num_qubits)
        else:
            reordered, engine_groups, engine_initial, self.order = reorder_free_first(form.arrays, groups, initial)
            self.engine = QaoaEngine(reordered, engine_groups, engine_initial)

    def optimize(self, depth: int, evaluations: int) -> Optimized:
        return optimize(self.engine.expectation, depth, evaluations)

    def sample(self, gammas, betas, shots: int, rng: np.random.Generator) -> dict[int, int]:
        counts = self.engine.sample(gammas, betas, shots, rng)
        return {int(basis_bits(z, self.order.size) @ (1 << self.order)): c for z, c in counts.items()}


def _run_qaoa(form: QuboForm, groups, initial, device, depth, shots, evaluations, backend_iterations, seed, facts) -> dict[int, int]:
    """Optimize the angles and sample the final state on the device."""
    engine = EngineQaoa(form, groups, initial)
    found = engine.optimize(depth, evaluations)
    facts.update(expectation=found.value, optimizer_evaluations=found.evaluations, gammas=found.gammas.tolist(), betas=found.betas.tolist())
    if device.kind == "engine":
        return engine.sample(found.gammas, found.betas, shots, np.random.default_rng(seed))
    circuit = TranspiledQaoa(form.arrays, depth, device, shots, groups, initial)
    facts.update(circuit.facts())
    gammas, betas = _refine_on_device(circuit, form, found.gammas, found.betas, backend_iterations)
    return circuit.sample(gammas, betas)


def _refine_on_device(circuit: TranspiledQaoa, form: QuboForm, gammas, betas, iterations: int):
    """A few COBYLA steps on the device's sampled mean cost, from the engine's angles."""
    if iterations <= 0:
        return gammas, betas
    from scipy.optimize import minimize

    depth = len(gammas)

    def sampled_cost(angles: np.ndarray) -> float:
        counts = circuit.sample(angles[:depth], angles[depth:])
        return sum(form.arrays.value(basis_bits(z, form.num_qubits)) * c for z, c in counts.items()) / circuit.shots

    found = minimize(sampled_cost, np.concatenate([gammas, betas]), method="COBYLA", options={"maxiter": iterations, "rhobeg": 0.1})
    return found.x[:depth], found.x[depth:]


def _decode(search: Search, allocation: TaskAllocation, form: QuboForm, counts: dict[int, int], start: Evaluation, facts) -> list[Evaluation]:
    """Every distinct assignment among the samples (most frequent first), repaired and evaluated.

    The first T*M QUBO bits are the program's x variables, so samples that
    differ only in slack bits name the same assignment and are scored once.
    """
    order = levels_by_power(search.problem)
    cells = allocation.num_tasks * allocation.num_machines
    assignments: dict[bytes, list] = {}
    for state, count in counts.items():
        assignment = allocation.interpret(basis_bits(state, cells))
        entry = assignments.setdefault(assignment.tobytes(), [assignment, 0])
        entry[1] += count
    decoded, valid = [], 0
    for assignment, count in sorted(assignments.values(), key=lambda entry: (-entry[1], entry[0].tolist())):
        if search.exhausted:
            break
        if np.all(assignment >= 0) and form.program.is_feasible(allocation.solution(assignment)):
            valid += count
        complete = np.where(assignment < 0, start.assignment, assignment)
        decoded.append(repair(search, complete, start.levels, order, stage="qaoa"))
    shots = sum(counts.values())
    facts.update(distinct_samples=len(counts), distinct_assignments=len(assignments), feasible_sample_share=valid / shots if shots else 0.0)
    if decoded:
        facts["best_sample_objective"] = min(decoded, key=lambda e: e.key).objective
    return decoded or [start]


def _best_distinct(evaluations: list[Evaluation], count: int) -> list[Evaluation]:
    """The ``count`` best schedules with distinct assignments."""
    chosen, seen = [], set()
    for evaluation in sorted(evaluations, key=lambda e: e.key):
        key = evaluation.assignment.tobytes()
        if key not in seen:
            seen.add(key)
            chosen.append(evaluation)
        if len(chosen) == count:
            break
    return chosen
