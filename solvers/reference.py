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
"""

from __future__ import annotations

from typing import Any

import numpy as np
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_aer import AerSimulator
from qiskit_aer.primitives import SamplerV2
from qiskit_algorithms import QAOA
from qiskit_algorithms.optimizers import COBYLA
from qiskit_algorithms.utils import algorithm_globals
from qiskit_optimization.algorithms import MinimumEigenOptimizer

from qsched.problem import FieldViolation, Problem
from qsched.registry import SolverKind, register
from qsched.solver import Budget, ProgressCallback, Result, Search
from qsched.solvers.backends import QUBIT_BUDGET
from qsched.solvers.qaoa import encode, qubit_violations, range_violations


def check_reference(problem: Problem, options: dict[str, Any]) -> list[FieldViolation]:
    violations = range_violations(options, {"depth": 1, "maxiter": 1})
    if options.get("backend", "aer") != "aer":
        violations.append(FieldViolation("backend", "qaoa-reference runs on aer only"))
    return violations or qubit_violations(problem, QUBIT_BUDGET["aer"], "qaoa-reference")


@register("qaoa-reference", kind=SolverKind.QUANTUM, finite=True, backends=("aer",), check=check_reference)
def qaoa_reference(
    problem: Problem,
    budget: Budget,
    seed: int,
    progress: ProgressCallback | None = None,
    *,
    backend: str = "aer",
    depth: int = 2,
    maxiter: int = 100,
) -> Result:
    """Stock qiskit-algorithms QAOA + MinimumEigenOptimizer on Aer (the reference to beat)."""
    search = Search(problem, budget, progress)
    allocation, form, start = encode(problem)
    algorithm_globals.random_seed = seed
    sampler = SamplerV2(seed=seed)
    transpiler = generate_preset_pass_manager(optimization_level=1, backend=AerSimulator(), seed_transpiler=seed)
    qaoa = QAOA(sampler, COBYLA(maxiter=maxiter), reps=depth, transpiler=transpiler)
    found = MinimumEigenOptimizer(qaoa).solve(form.program)
    assignment = allocation.interpret(found.x)
    fastest = np.argmin(allocation.runtime, axis=1)
    search.evaluate(np.where(assignment < 0, fastest, assignment), start.levels, stage="qaoa")
    facts = {
        "backend": backend,
        "qubits": form.num_qubits,
        "depth": depth,
        "status": found.status.name,
        "one_hot": bool(np.all(assignment >= 0)),
        "optimizer_evaluations": int(found.min_eigen_solver_result.cost_function_evals or 0),
    }
    return search.result("qaoa-reference", completed=True, facts=facts)
