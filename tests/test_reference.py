"""`qaoa-reference`, the stock qiskit stack: what it answers, and its empty-sample failure.

qiskit-algorithms' QAOA returns its measured distribution as a dict of
probabilities, which qiskit-optimization's `MinimumEigenOptimizer` squares
(it takes dict values for amplitudes) and filters at 1e-6: when no
bitstring was measured twice in 1024 shots, it keeps nothing and raises
`IndexError`. A minimum eigensolver that "measures" such a distribution
reproduces that without depending on where COBYLA takes a real QAOA.
"""

from __future__ import annotations

import numpy as np
import pytest
from builders import generated
from qiskit_algorithms.minimum_eigensolvers import (
    SamplingMinimumEigensolver,
    SamplingMinimumEigensolverResult,
)
from qiskit_optimization.algorithms import MinimumEigenOptimizer
from qiskit_optimization.converters import QuadraticProgramToQubo

from qsched.model import registry
from qsched.model.solver import Budget
from qsched.solvers.qaoa import encode
from qsched.solvers.reference import stock_answer

SHOTS = 1024


class Measured(SamplingMinimumEigensolver):
    """Answers with a fixed sample of bitstrings, ``repeats`` shots each, as QAOA on SamplerV2 does:
    a dict of bitstring -> probability, qubit 0 the last character."""

    def __init__(self, seed: int, repeats: int = 1):
        self.seed = seed
        self.repeats = repeats

    def compute_minimum_eigenvalue(
        self, operator, aux_operators=None
    ) -> SamplingMinimumEigensolverResult:
        n = operator.num_qubits
        states = np.random.default_rng(self.seed).choice(
            2**n, size=SHOTS // self.repeats, replace=False
        )
        result = SamplingMinimumEigensolverResult()
        result.eigenstate = {format(int(z), f"0{n}b"): self.repeats / SHOTS for z in states}
        result.eigenvalue = 0.0
        result.cost_function_evals = 7
        return result

    @classmethod
    def supports_aux_operators(cls) -> bool:
        return True


@pytest.fixture(scope="module")
def program():
    allocation, form, _ = encode(generated(4, 2, 5))
    assert form.num_qubits >= 10  # room for 1024 distinct bitstrings
    return allocation.to_quadratic_program()


def test_the_stock_optimizer_keeps_no_sample_when_none_was_measured_twice(program):
    """The upstream failure itself: if this starts passing, qiskit-optimization has fixed it."""
    with pytest.raises(IndexError):
        MinimumEigenOptimizer(Measured(seed=1)).solve(program)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_empty_samples_are_read_by_the_optimizers_own_rule(program, seed):
    answer = stock_answer(program, Measured(seed))
    assert not answer.samples_kept and answer.optimizer_evaluations == 7
    converter = QuadraticProgramToQubo()
    operator, _ = converter.convert(program).to_ising()
    measured = Measured(seed).compute_minimum_eigenvalue(operator).eigenstate
    readings = [
        converter.interpret(np.array([int(bit) for bit in reversed(bits)])) for bits in measured
    ]
    keys = [(not program.is_feasible(x), program.objective.evaluate(x)) for x in readings]
    assert any(np.array_equal(answer.x, x) for x in readings)  # one of the measured bitstrings
    assert (not program.is_feasible(answer.x), program.objective.evaluate(answer.x)) == min(keys)
    assert answer.status == ("SUCCESS" if program.is_feasible(answer.x) else "INFEASIBLE")


def test_samples_the_optimizer_keeps_give_its_own_answer(program):
    answer = stock_answer(
        program, Measured(seed=4, repeats=2)
    )  # every bitstring measured twice: kept
    found = MinimumEigenOptimizer(Measured(seed=4, repeats=2)).solve(program)
    assert answer.samples_kept
    assert np.array_equal(answer.x, found.x) and answer.status == found.status.name


def test_reference_runs_the_stock_stack_on_the_same_program():
    problem = generated(3, 2, 1)
    reference = registry.solve(problem, "qaoa-reference", Budget(), 0, None, {"maxiter": 20})
    ours = registry.solve(problem, "qaoa", Budget(), 0, None, {"vqe": False})
    assert reference.facts["qubits"] == ours.facts["qubits"]
    assert reference.facts["status"] in {"SUCCESS", "INFEASIBLE"}
    assert isinstance(reference.facts["samples_kept"], bool)
    assert reference.evaluations == 1  # its answer, scored as returned
