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

One builder: `penalty_qubo` builds the QUBO straight from a program's arrays
(its objective, integer rows and implications), fast enough for the hybrid's
windows, hundreds a second. It is the QUBO every sampler of the task
allocation sees. `to_qubo` is the converter for programs held as a
qiskit-optimization `QuadraticProgram` (the application-class convention
``to_quadratic_program()``, for qiskit users and for programs that exist only
in that form): qiskit-optimization's `QuadraticProgramToQubo` at the same
calibrated penalty. The builder takes the converter's steps in its order
(inequalities ``x <= y`` to slack-free penalties, other inequalities to
equalities with an integer slack, slack to bits, equalities to squared
penalties), so a program given both ways has one QUBO up to rounding; a test
compares the two.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from qsched.solvers.engine import Qubo

if TYPE_CHECKING:
    # qiskit-optimization takes over a second to import: only the qiskit path (`to_qubo`)
    # loads it, not the array builders every QUBO sampler and hybrid window uses.
    from qiskit.quantum_info import SparsePauliOp
    from qiskit_optimization import QuadraticProgram
    from qiskit_optimization.converters import QuadraticProgramToQubo

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
    return _span(
        objective.constant,
        np.concatenate([objective.linear.to_array(), objective.quadratic.to_array().ravel()]),
    )


def coefficient_bounds(objective: Qubo) -> tuple[float, float]:
    """`objective_bounds` of an objective given as arrays."""
    return _span(
        objective.constant, np.concatenate([objective.linear, objective.quadratic.ravel()])
    )


def _span(constant: float, terms: np.ndarray) -> tuple[float, float]:
    """(constant + the negative terms, constant + the positive ones)."""
    return constant + terms[terms < 0].sum(), constant + terms[terms > 0].sum()


def calibrated_penalty(lower: float, upper: float) -> float:
    """A weight above ``upper - lower``: one unit of violation then outweighs any objective gain."""
    span = upper - lower
    return span * (1 + PENALTY_MARGIN) if span > 0 else 1.0


@dataclass(frozen=True, eq=False)
class PenaltyQubo:
    """A constrained program's QUBO as the engine's arrays, and the penalty weight in it."""

    arrays: Qubo
    penalty: float

    @property
    def num_qubits(self) -> int:
        return self.arrays.num_qubits


@dataclass(frozen=True, eq=False)
class QuboForm(PenaltyQubo):
    """A `PenaltyQubo` converted by qiskit-optimization: the program, its QUBO as a program, and
    the converter that maps QUBO bits back."""

    program: QuadraticProgram
    qubo: QuadraticProgram
    converter: QuadraticProgramToQubo

    def original(self, bits: np.ndarray) -> np.ndarray:
        """QUBO bits (slack included) -> the program's own variables."""
        return np.asarray(self.converter.interpret(np.asarray(bits, dtype=float)))

    def to_ising(self) -> tuple[SparsePauliOp, float]:
        """(SparsePauliOp, offset) with the QUBO value = offset + <z|H|z> (qiskit-optimization's
        convention)."""
        return self.qubo.to_ising()


def to_qubo(program: QuadraticProgram, upper: float | None = None) -> QuboForm:
    """The QUBO of a binary program with integer constraints; ``upper`` bounds its optimum
    (e.g. the objective of a known feasible point), else the coefficient bound is used."""
    from qiskit_optimization.converters import QuadraticProgramToQubo

    lower, highest = objective_bounds(program)
    penalty = calibrated_penalty(lower, highest if upper is None else upper)
    converter = QuadraticProgramToQubo(penalty=penalty)
    qubo = converter.convert(program)
    return QuboForm(
        arrays=engine_arrays(qubo),
        penalty=penalty,
        program=program,
        qubo=qubo,
        converter=converter,
    )


def engine_arrays(qubo: QuadraticProgram) -> Qubo:
    """A QUBO program as the engine's arrays: x^T Q x with x_i^2 = x_i moved into the linear
    part."""
    objective = qubo.objective
    square = objective.quadratic.to_array()
    upper = np.triu(square, 1) + np.tril(square, -1).T
    return Qubo(objective.linear.to_array() + np.diag(square), upper, float(objective.constant))


@dataclass(frozen=True)
class IntegerRow:
    """``coefficients @ x[variables] <= rhs`` (``==`` when ``equality``), integer coefficients,
    each variable once."""

    variables: np.ndarray
    coefficients: np.ndarray
    rhs: int
    equality: bool = False

    def slack_weights(self) -> np.ndarray:
        """The bits of the integer slack qiskit-optimization gives an inequality: it ranges over
        [0, rhs - lowest left-hand side], written as 1, 2, ..., 2^(p-1), then what is left up
        to the range (p = floor(log2 range)); none for an equality or an empty range."""
        span = 0 if self.equality else self.rhs - int(np.minimum(self.coefficients, 0).sum())
        if span <= 0:
            return np.zeros(0, dtype=np.int64)
        power = int(np.log2(span))
        return np.append(1 << np.arange(power, dtype=np.int64), span - (2**power - 1))

    def holds(self, x: np.ndarray) -> np.ndarray:
        """Whether each of the points ``x`` (N, variables) meets the row."""
        lhs = x[:, self.variables] @ self.coefficients
        return np.asarray(lhs == self.rhs if self.equality else lhs <= self.rhs)


def penalty_qubo(
    objective: Qubo,
    rows: Sequence[IntegerRow],
    implications: Sequence[tuple[int, int]] = (),
    upper: float | None = None,
) -> PenaltyQubo:
    """The QUBO `to_qubo` gives for the program "minimize ``objective`` subject to ``rows`` and
    ``x <= y`` for each (x, y) in ``implications``", built from arrays.

    Slack bits follow the program's variables, row by row; ``upper`` as in `to_qubo`. The rows
    must not be the other patterns the converter turns into slack-free penalties (``sum x <= 1``
    or ``sum x >= n - 1`` over all-one coefficients, and two-variable rows with right-hand side
    0 and coefficients +1 and -1).
    """
    lower, highest = coefficient_bounds(objective)
    penalty = calibrated_penalty(lower, highest if upper is None else upper)
    rows_with_slack, size = _with_slack(rows, objective.num_qubits)
    linear = np.zeros(size)
    linear[: objective.num_qubits] = objective.linear
    quadratic = np.zeros((size, size))
    quadratic[: objective.num_qubits, : objective.num_qubits] = objective.quadratic
    constant = objective.constant
    for x, y in implications:  # x <= y: P (x - x y)
        linear[x] += penalty
        quadratic[min(x, y), max(x, y)] -= penalty
    for variables, coefficients, rhs in rows_with_slack:  # P (coefficients @ x - rhs)^2
        linear[variables] += penalty * (coefficients**2 - 2 * rhs * coefficients)
        first, second = np.triu_indices(variables.size, 1)
        low = np.minimum(variables[first], variables[second])
        high = np.maximum(variables[first], variables[second])
        np.add.at(quadratic, (low, high), 2 * penalty * coefficients[first] * coefficients[second])
        constant += penalty * rhs**2
    return PenaltyQubo(Qubo(linear, quadratic, float(constant)), penalty)


def _with_slack(
    rows: Sequence[IntegerRow], variables: int
) -> tuple[list[tuple[np.ndarray, np.ndarray, int]], int]:
    """Every row as an equality (variables, coefficients, rhs), inequalities with their slack
    bits numbered from ``variables`` on; and the number of variables with the slack bits."""
    equalities = []
    for row in rows:
        weights = row.slack_weights()
        bits = variables + np.arange(weights.size)
        variables += weights.size
        equalities.append(
            (
                np.concatenate([row.variables, bits]).astype(np.int64),
                np.concatenate([row.coefficients, weights]).astype(float),
                row.rhs,
            )
        )
    return equalities, variables
