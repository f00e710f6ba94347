"""`qaoa-reference`: the stock qiskit stack on the same program, for side-by-side comparisons.

What a new user writes: qiskit-algorithms' `QAOA` (Aer `SamplerV2`,
COBYLA, ``reps = depth``) inside qiskit-optimization's
`MinimumEigenOptimizer`, on the same `TaskAllocation` program the `qaoa`
solver builds, with qiskit-optimization choosing the penalty itself. The one
addition is a preset pass manager: without it QAOA's `PauliEvolutionGate`s
reach Aer untranspiled and become dense matrix exponentials. Its answer is
read as it comes: a task whose row is not one-hot goes to its fastest
machine, and nothing is repaired or polished, so the evaluator scores
exactly what the stock stack returned.

One failure of the stock stack is caught rather than passed on.
qiskit-algorithms 0.4 returns the measured distribution as a plain dict of
probabilities; qiskit-optimization 0.7 takes a dict for amplitudes, squares
them and drops every sample under 1e-6, so a bitstring measured once in
1024 shots (probability 1/1024, squared 9.5e-7) is dropped. When QAOA's
distribution is flat enough that no bitstring was measured twice, nothing
is kept and `MinimumEigenOptimizer` raises `IndexError`. `stock_answer` then
applies the optimizer's own choice (feasible first, then the lowest
objective) to every measured bitstring, and says so in its facts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
import numpy.typing as npt
from qiskit.quantum_info.operators.base_operator import BaseOperator
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_aer import AerSimulator
from qiskit_aer.primitives import SamplerV2
from qiskit_algorithms import QAOA
from qiskit_algorithms.list_or_dict import ListOrDict
from qiskit_algorithms.minimum_eigensolvers import (
    SamplingMinimumEigensolver,
    SamplingMinimumEigensolverResult,
)
from qiskit_algorithms.optimizers import COBYLA
from qiskit_algorithms.utils import algorithm_globals
from qiskit_optimization import QuadraticProgram
from qiskit_optimization.algorithms import MinimumEigenOptimizer, OptimizationResultStatus
from qiskit_optimization.converters import QuadraticProgramToQubo

from qsched.model.options import Option
from qsched.model.problem import FieldViolation, Problem
from qsched.model.registry import SolverKind, register
from qsched.model.solver import Budget, ProgressCallback, Result
from qsched.search.tracker import SolveTracker
from qsched.solvers.backends import QUBIT_BUDGET
from qsched.solvers.decode import encode
from qsched.solvers.qaoa import qubit_violations
from qsched.solvers.stopping import Stopped, raise_when


@dataclass(frozen=True)
class StockAnswer:
    """What the stock stack answered for a program."""

    #: Values of the program's variables.
    x: npt.NDArray[np.float64]
    #: qiskit-optimization's `OptimizationResultStatus` name (SUCCESS, INFEASIBLE, ...).
    status: str
    #: Cost-function evaluations of the stock optimizer loop.
    optimizer_evaluations: int
    #: False when `MinimumEigenOptimizer` kept no measured sample and ``x`` was
    #: chosen from the measured distribution by its rule (see the module docstring).
    samples_kept: bool


class _Recording(SamplingMinimumEigensolver):  # type: ignore[misc]  # qiskit-algorithms is untyped
    """A minimum eigensolver that runs another and keeps its result."""

    def __init__(self, solver: SamplingMinimumEigensolver):
        self.solver = solver
        self.result: SamplingMinimumEigensolverResult | None = None

    def compute_minimum_eigenvalue(
        self, operator: BaseOperator, aux_operators: ListOrDict[BaseOperator] | None = None
    ) -> SamplingMinimumEigensolverResult:
        self.result = self.solver.compute_minimum_eigenvalue(operator, aux_operators)
        return self.result

    @classmethod
    def supports_aux_operators(cls) -> bool:
        return True


def stock_answer(program: QuadraticProgram, solver: SamplingMinimumEigensolver) -> StockAnswer:
    """`MinimumEigenOptimizer(solver).solve(program)` with its default QUBO converter,
    read from the measured distribution when the optimizer kept no sample of it."""
    recording = _Recording(solver)
    converter = QuadraticProgramToQubo()  # what MinimumEigenOptimizer builds when given none
    try:
        found = MinimumEigenOptimizer(recording, converters=converter).solve(program)
    except IndexError:
        if recording.result is None:
            raise  # not the sample filter: QAOA itself failed
        return _best_measured(program, converter, recording.result)
    if found.x is None:
        raise RuntimeError(f"the stock stack returned no solution (status {found.status.name})")
    assert recording.result is not None, "the optimizer answered, so the solver ran"
    evaluations = int(recording.result.cost_function_evals or 0)
    return StockAnswer(np.asarray(found.x), found.status.name, evaluations, samples_kept=True)


def _best_measured(
    program: QuadraticProgram,
    converter: QuadraticProgramToQubo,
    result: SamplingMinimumEigensolverResult,
) -> StockAnswer:
    """The measured bitstring `MinimumEigenOptimizer` would pick: feasible first, then the
    lowest objective; the first measured of equals (its sort is stable)."""
    best_key: tuple[bool, float] | None = None
    best_x: npt.NDArray[np.float64] | None = None
    for bitstring in result.eigenstate:  # qiskit's order: qubit 0 is the last character
        x = converter.interpret(np.array([int(bit) for bit in reversed(bitstring)]))
        key = (not program.is_feasible(x), program.objective.evaluate(x))
        if best_key is None or key < best_key:
            best_key, best_x = key, x
    if best_key is None or best_x is None:
        raise RuntimeError("the stock QAOA measured no bitstring")
    status = (
        OptimizationResultStatus.INFEASIBLE if best_key[0] else OptimizationResultStatus.SUCCESS
    )
    return StockAnswer(
        np.asarray(best_x), status.name, int(result.cost_function_evals or 0), samples_kept=False
    )


def check_reference(problem: Problem, options: Mapping[str, Any]) -> list[FieldViolation]:
    return qubit_violations(problem, QUBIT_BUDGET["aer"], "qaoa-reference")


@register(
    "qaoa-reference", kind=SolverKind.QUANTUM, finite=True, backends=("aer",), check=check_reference
)
def qaoa_reference(
    problem: Problem,
    budget: Budget,
    seed: int,
    progress: ProgressCallback | None = None,
    *,
    backend: Annotated[str, Option("where the stock QAOA runs", choices=("aer",))] = "aer",
    depth: Annotated[int, Option("QAOA layers (reps)", minimum=1, maximum=100)] = 2,
    maxiter: Annotated[
        int, Option("COBYLA iterations of the stock optimizer", minimum=1, maximum=100_000)
    ] = 100,
) -> Result:
    """Stock qiskit-algorithms QAOA + MinimumEigenOptimizer on Aer (the reference to beat)."""
    tracker = SolveTracker(problem, budget, progress)
    allocation, form, start = encode(problem)
    algorithm_globals.random_seed = seed
    sampler = SamplerV2(seed=seed)
    transpiler = generate_preset_pass_manager(
        optimization_level=1, backend=AerSimulator(), seed_transpiler=seed
    )
    stock = QAOA(
        sampler,
        COBYLA(maxiter=maxiter),
        reps=depth,
        transpiler=transpiler,
        callback=raise_when(lambda: tracker.exhausted),
    )
    try:
        answer = stock_answer(allocation.to_quadratic_program(), stock)
    except Stopped:  # the budget ended inside the stock loop: answer with the start
        tracker.evaluate(start.assignment, start.levels, stage="start")
        facts = {"backend": backend, "qubits": form.num_qubits, "depth": depth, "stopped": True}
        return tracker.result("qaoa-reference", completed=False, facts=facts)
    assignment = allocation.interpret(answer.x)
    fastest = np.argmin(allocation.runtime, axis=1)
    tracker.evaluate(np.where(assignment < 0, fastest, assignment), start.levels, stage="qaoa")
    facts = {
        "backend": backend,
        "qubits": form.num_qubits,
        "depth": depth,
        "status": answer.status,
        "one_hot": bool(np.all(assignment >= 0)),
        "optimizer_evaluations": answer.optimizer_evaluations,
        "samples_kept": answer.samples_kept,
    }
    return tracker.result("qaoa-reference", completed=True, facts=facts)
