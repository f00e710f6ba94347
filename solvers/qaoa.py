"""The `qaoa` solver: QUBO -> QAOA -> samples -> repaired, polished schedules -> VQE levels.

1. Start: Min-min, repaired (capacity, then DVFS steps down while over the
   power cap). Its levels are the levels the QUBO is built at, and its
   assignment calibrates the penalty (`allocation.TaskAllocation`).
2. QAOA: ``depth`` layers, XY mixer on each task's one-hot row started from
   the start's assignment (a warm start inside the feasible one-hot space) or
   the X mixer from |+>. Angles: depth-by-depth COBYLA with INTERP warm
   starts on the engine's exact expectation (`qaoa_samplers.OptimizedAngles`),
   on the CPU engine or, with ``backend=gpu``, the same engine's CUDA kernels
   (`gpu_engine`). On ``engine`` and ``gpu`` the final state is sampled
   directly; on a circuit backend the transpiled circuit is re-bound for
   ``backend_iterations`` further COBYLA steps on the sampled mean cost, then
   sampled (`qaoa_samplers.qaoa_sampler` chooses).
   Steps 1 and 2 take the allocation QUBO as `TaskAllocation.to_qubo` builds it
   from arrays; `TaskAllocation.to_quadratic_program` is the same program for
   qiskit-optimization.
3. Decode: each distinct sample (most frequent first) -> assignment (a task
   whose row is not one-hot keeps its start machine) -> repair -> evaluator.
4. Keep the best ``candidates`` distinct schedules and polish each with
   ``polish_steps`` local-search steps on the true objective.
   Steps 1, 3 and 4 are `qsched.solvers.decode`'s, shared with the classical
   peers `qubo-sa` and `qubo-tabu`, which replace step 2 only.
5. VQE: choose the best polished candidate's DVFS levels (`vqe.refine_levels`).
6. The best schedule the evaluator saw is the answer.

Problems whose QUBO needs more qubits than the backend takes are refused
with a field violation before anything runs (``problem.tasks``):
decomposing large problems into sub-QUBOs is not part of this solver.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from qsched.model.options import Option
from qsched.model.problem import FieldViolation, Problem, quoted
from qsched.model.registry import SolverKind, register
from qsched.model.solver import Budget, ProgressCallback, Result
from qsched.search.tracker import SolveTracker
from qsched.solvers import backends
from qsched.solvers.decode import Candidates, PolishSteps, encode, polished
from qsched.solvers.qaoa_samplers import OptimizedAngles, qaoa_sampler
from qsched.solvers.sampling import QuboModel
from qsched.solvers.vqe import VqeReport, refine_levels

MIXERS = ("xy", "x")
#: Widest block of the VQE level program (machines are refined in blocks that fit).
VQE_QUBITS = 14


def qubit_budget(backend: str, max_qubits: int) -> int:
    """The backend's qubit limit, or ``max_qubits`` when that is lower (0: the backend's)."""
    limit = backends.device(backend).max_qubits
    return min(max_qubits, limit) if max_qubits else limit


def check_qaoa(problem: Problem, options: Mapping[str, Any]) -> list[FieldViolation]:
    """Refuse a backend that does not resolve, and problems whose QUBO exceeds the qubit budget."""
    backend = options["backend"]
    try:
        budget = qubit_budget(backend, options["max_qubits"])
    except backends.BackendError as error:
        return [FieldViolation("backend", str(error))]
    return qubit_violations(problem, budget, f"backend {quoted(backend)}")


def qubit_violations(problem: Problem, budget: int, taker: str) -> list[FieldViolation]:
    """A violation of ``problem.tasks`` when the QUBO needs more than ``budget`` qubits (it has at
    least one per task and machine, so larger problems are refused without building it)."""
    cells = problem.num_tasks * problem.num_machines
    qubits = cells if cells > budget else encode(problem)[1].num_qubits
    if qubits <= budget:
        return []
    return [
        FieldViolation(
            "problem.tasks",
            f"{problem.num_tasks} tasks x {problem.num_machines} machines need {qubits} qubits; "
            f"{taker} takes at most {budget}; "
            "the classical heuristics and searches (min-min, local-search, ...) take any size",
        )
    ]


@register(
    "qaoa", kind=SolverKind.QUANTUM, finite=True, backends=backends.BACKEND_NAMES, check=check_qaoa
)
def qaoa(
    problem: Problem,
    budget: Budget,
    seed: int,
    progress: ProgressCallback | None = None,
    *,
    backend: Annotated[
        str,
        Option(
            "where QAOA runs (SolveRequest.backend): "
            "engine, gpu, aer, aer-noisy, fake_<device>, ibm:<device>"
        ),
    ] = "engine",
    depth: Annotated[int, Option("QAOA layers", minimum=1, maximum=100)] = 2,
    mixer: Annotated[
        str,
        Option(
            "xy: one-hot rows from the start's assignment; x: transverse field, uniform start",
            choices=MIXERS,
        ),
    ] = "xy",
    shots: Annotated[
        int, Option("samples of the final state", minimum=1, maximum=1_000_000)
    ] = 1024,
    candidates: Candidates = 8,
    optimizer_evaluations: Annotated[
        int,
        Option("expectation values per depth for the angle optimizer", minimum=1, maximum=100_000),
    ] = 60,
    backend_iterations: Annotated[
        int, Option("COBYLA steps on a circuit backend's sampled cost", minimum=0, maximum=10_000)
    ] = 10,
    polish_steps: PolishSteps = 300,
    vqe: Annotated[bool, Option("refine the best schedule's DVFS levels with VQE")] = True,
    vqe_iterations: Annotated[
        int, Option("COBYLA iterations per VQE block", minimum=1, maximum=100_000)
    ] = 60,
    max_qubits: Annotated[
        int,
        Option("lower qubit limit than the backend's (0: the backend's)", minimum=0, maximum=1_000),
    ] = 0,
) -> Result:
    """QAOA on the allocation QUBO, decoded, repaired and polished, then VQE on the DVFS levels."""
    tracker = SolveTracker(problem, budget, progress)
    device = backends.device(backend, seed)
    allocation, form, start = encode(problem, tracker)
    groups = allocation.one_hot_groups() if mixer == "xy" else None
    initial = allocation.start_state(start.assignment, form.num_qubits) if groups else None
    facts: dict[str, Any] = {
        "backend": device.name,
        "qubits": form.num_qubits,
        "depth": depth,
        "mixer": mixer,
        "penalty": form.penalty,
        "shots": shots,
    }

    sampler = qaoa_sampler(
        device,
        OptimizedAngles(depth, optimizer_evaluations, stop=lambda: tracker.exhausted),
        backend_iterations,
    )
    with tracker.stage("qaoa"):
        samples = sampler.sample(QuboModel(form.arrays, groups, initial), shots, seed)
    facts |= samples.facts
    finalists, statistics = polished(
        tracker,
        allocation,
        samples.counts,
        start,
        seed=seed,
        candidates=candidates,
        polish_steps=polish_steps,
        stage="qaoa",
    )
    facts |= statistics.facts()
    if vqe and not tracker.exhausted:
        report = VqeReport()
        with tracker.stage("vqe"):
            best = min(finalists, key=lambda e: e.key)
            refine_levels(
                tracker,
                best,
                device,
                report,
                max_qubits=min(VQE_QUBITS, qubit_budget(backend, max_qubits)),
                iterations=vqe_iterations,
            )
        facts.update({f"vqe_{name}": value for name, value in vars(report).items()})
    facts["start_objective"] = start.objective
    return tracker.result("qaoa", completed=not tracker.exhausted, facts=facts)
