"""From a constrained binary program to a QUBO with a calibrated penalty.

qiskit-optimization's `QuadraticProgramToQubo` turns constraints into
penalty terms; left to itself it guesses the penalty weight (and falls back
to 1e5 when it cannot), which either lets infeasible states win or flattens
the cost landscape QAOA has to search. Here the weight is derived from the
objective instead: if ``upper`` bounds the optimum and ``lower`` bounds the
objective over all binary vectors, any state that breaks a constraint by at
least one unit pays ``P > upper - lower`` and so scores above the optimum.

"At least one unit" is why constraints are scaled to integers first
(`integer_row`): with integer coefficients an equality's squared residual,
an inequality's residual after its integer slack, and the slack-free
penalties for ``x <= y`` and ``sum x <= 1`` are all whole numbers, so a
violation costs P or more and the QUBO's ground state is the constrained
optimum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from qiskit_optimization import QuadraticProgram
from qiskit_optimization.converters import QuadraticProgramToQubo

from qsched.solvers.engine import Qubo

#: How far above the objective's span the penalty sits (relative).
PENALTY_MARGIN = 0.05


def integer_row(coefficients: np.ndarray, limit: float, steps: int) -> tuple[np.ndarray, int]:
    """``coefficients @ x <= limit`` in whole units of ``limit / steps``, rounded up (conservative):
    any x meeting the integer row meets the original one. Returns (integer coefficients, steps)."""
    unit = limit / steps
    return np.ceil(np.asarray(coefficients) / unit - 1e-9).astype(np.int64), steps


def objective_bounds(program: QuadraticProgram) -> tuple[float, float]:
    """(lowest, highest) value the objective can take over all binary vectors, from its
    coefficients."""
    objective = program.objective
    terms = np.concatenate([objective.linear.to_array(), objective.quadratic.to_array().ravel()])
    return objective.constant + terms[terms < 0].sum(), objective.constant + terms[terms > 0].sum()


def calibrated_penalty(lower: float, upper: float) -> float:
    """A weight above ``upper - lower``: one unit of violation then outweighs any objective gain."""
    span = upper - lower
    return span * (1 + PENALTY_MARGIN) if span > 0 else 1.0


@dataclass(frozen=True, eq=False)
class QuboForm:
    """A constrained program's QUBO, the converter that maps QUBO bits back, and the engine's
    arrays."""

    program: QuadraticProgram
    qubo: QuadraticProgram
    converter: QuadraticProgramToQubo
    penalty: float
    arrays: Qubo

    @property
    def num_qubits(self) -> int:
        return self.qubo.get_num_vars()

    def original(self, bits: np.ndarray) -> np.ndarray:
        """QUBO bits (slack included) -> the program's own variables."""
        return np.asarray(self.converter.interpret(np.asarray(bits, dtype=float)))

    def to_ising(self):
        """(SparsePauliOp, offset) with the QUBO value = offset + <z|H|z> (qiskit-optimization's
        convention)."""
        return self.qubo.to_ising()


def to_qubo(program: QuadraticProgram, upper: float | None = None) -> QuboForm:
    """The QUBO of a binary program with integer constraints; ``upper`` bounds its optimum
    (e.g. the objective of a known feasible point), else the coefficient bound is used."""
    lower, highest = objective_bounds(program)
    penalty = calibrated_penalty(lower, highest if upper is None else upper)
    converter = QuadraticProgramToQubo(penalty=penalty)
    qubo = converter.convert(program)
    return QuboForm(program, qubo, converter, penalty, engine_arrays(qubo))


def engine_arrays(qubo: QuadraticProgram) -> Qubo:
    """A QUBO program as the engine's arrays: x^T Q x with x_i^2 = x_i moved into the linear
    part."""
    objective = qubo.objective
    square = objective.quadratic.to_array()
    upper = np.triu(square, 1) + np.tril(square, -1).T
    return Qubo(objective.linear.to_array() + np.diag(square), upper, float(objective.constant))
