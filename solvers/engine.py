"""A statevector QAOA engine for diagonal cost Hamiltonians, in compiled kernels.

QAOA on a QUBO never needs a general circuit simulator: the cost operator is
diagonal in the computational basis, so its phase layer is an elementwise
multiply by ``exp(-i gamma C(z))`` with ``C`` computed once for all 2^n basis
states, and a mixer layer is a fixed pattern of two-amplitude rotations. Both
run here as Numba kernels on one state vector, in place: memory is the state,
the cost diagonal (float64) and, for integer weights, an int32 phase-table
index per state (about 1.75x the state); nothing of size 2^n x n.

Conventions match qiskit's, so the same parameters give the same
probabilities as the circuit `circuit.qaoa_circuit` builds (a test pins this
against qiskit-aer): qubit i is bit i of the basis index (little-endian),
``C(z) = constant + sum_i q_i z_i + sum_{i<j} Q_ij z_i z_j`` for z in {0, 1}^n,
a layer is ``exp(-i gamma C)`` (without the constant, a global phase) then the mixer, and

- the X mixer is ``exp(-i beta sum_i X_i)`` = RX(2 beta) on every qubit, from |+>^n;
- the XY mixer is ``exp(-i beta (X_a X_b + Y_a Y_b) / 2)`` on the edges of a
  ring over each one-hot group (even edges, then odd edges, then the closing
  edge), which keeps the number of ones in each group: started from a state
  with exactly one 1 per group, every sample is a valid one-hot assignment.
  Qubits in no group (the slack bits of inequality constraints) get RX(2 beta)
  after the XY edges and start in |+>; numbered first, they take one
  cache-blocked pass (`reorder_free_first`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numba
import numpy as np

#: One angle per QAOA layer (the gammas or the betas).
LayerAngles = Sequence[float] | np.ndarray


@dataclass(frozen=True)
class Qubo:
    """``constant + linear @ z + sum_{i<j} quadratic[i, j] z_i z_j`` over binary z (upper-triangular
    ``quadratic``)."""

    linear: np.ndarray
    quadratic: np.ndarray
    constant: float = 0.0

    def __post_init__(self) -> None:
        n = np.shape(self.linear)[0]
        if np.shape(self.quadratic) != (n, n):
            raise ValueError(f"quadratic must be {n}x{n}, is {np.shape(self.quadratic)}")
        if np.any(np.tril(self.quadratic)):
            raise ValueError(
                "quadratic must be strictly upper-triangular (put z_i^2 = z_i terms in linear)"
            )

    @property
    def num_qubits(self) -> int:
        return self.linear.size

    def value(self, bits: np.ndarray) -> float:
        bits = np.asarray(bits, dtype=float)
        return float(self.constant + self.linear @ bits + bits @ self.quadratic @ bits)

    def pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The nonzero couplings as (i, j, weight) arrays with i < j."""
        i, j = np.nonzero(self.quadratic)
        return i.astype(np.int64), j.astype(np.int64), self.quadratic[i, j].astype(np.float64)


@numba.njit(parallel=True, cache=True)
def _cost_diagonal(
    n: int,
    linear: np.ndarray,
    pair_i: np.ndarray,
    pair_j: np.ndarray,
    pair_w: np.ndarray,
    constant: float,
    out: np.ndarray,
) -> None:
    for z in numba.prange(1 << n):
        total = constant
        for i in range(n):
            if (z >> i) & 1:
                total += linear[i]
        for k in range(pair_i.size):
            if (z >> pair_i[k]) & 1 and (z >> pair_j[k]) & 1:
                total += pair_w[k]
        out[z] = total


def basis_bits(state: int, num_qubits: int) -> np.ndarray:
    """The lowest ``num_qubits`` bits of basis state ``state``: qubit i is bit i (the engine's
    and qiskit's order). Any size of integer: the QUBO peers sample thousands of variables."""
    state = int(state)
    size = max(state.bit_length(), num_qubits, 1)
    raw = np.frombuffer(state.to_bytes((size + 7) // 8, "little"), dtype=np.uint8)
    return np.unpackbits(raw, bitorder="little")[:num_qubits].astype(np.int64)


def basis_states(bits: np.ndarray) -> dict[int, int]:
    """Rows of bits (qubit i = column i) as basis states (Python integers, so any number of
    qubits) and how often each occurs."""
    rows, counts = np.unique(np.asarray(bits, dtype=np.uint8), axis=0, return_counts=True)
    packed = np.packbits(rows, axis=1, bitorder="little")
    return {
        int.from_bytes(row.tobytes(), "little"): int(count)
        for row, count in zip(packed, counts, strict=True)
    }


def cost_diagonal(qubo: Qubo) -> np.ndarray:
    """C(z) for every basis state z, computed once in a compiled loop."""
    out = np.empty(1 << qubo.num_qubits)
    _cost_diagonal(
        qubo.num_qubits, qubo.linear.astype(np.float64), *qubo.pairs(), float(qubo.constant), out
    )
    return out


#: Widest range of integer costs for which phases come from a table.
MAX_PHASE_TABLE = 1 << 16
#: Qubits handled inside one cache-resident block (2^12 complex128 = 64 KiB).
BLOCK_QUBITS = 12


@numba.njit(inline="always")
def _rx_pair(state: np.ndarray, z: int, partner: int, c: float, s: float) -> None:
    """(a, b) <- (c a - i s b, c b - i s a), written out in real arithmetic."""
    a, b = state[z], state[partner]
    state[z] = complex(c * a.real + s * b.imag, c * a.imag - s * b.real)
    state[partner] = complex(c * b.real + s * a.imag, c * b.imag - s * a.real)


@numba.njit(parallel=True, cache=True)
def _phase(state: np.ndarray, diagonal: np.ndarray, constant: float, gamma: float) -> None:
    """exp(-i gamma (C - constant)): the constant is a global phase, left out as qiskit does."""
    for z in numba.prange(state.size):
        angle = -gamma * (diagonal[z] - constant)
        state[z] *= complex(np.cos(angle), np.sin(angle))


@numba.njit(parallel=True, cache=True)
def _phase_from_table(state: np.ndarray, levels: np.ndarray, table: np.ndarray) -> None:
    """The phase layer when C takes few distinct values: one table lookup per amplitude."""
    for z in numba.prange(state.size):
        state[z] *= table[levels[z]]


@numba.njit(parallel=True, cache=True)
def _rx_low_qubits(state: np.ndarray, low: int, beta: float) -> None:
    """RX(2 beta) on qubits 0..low-1, one cache-resident block of 2^low amplitudes at a time."""
    c, s = np.cos(beta), np.sin(beta)
    block = 1 << low
    for index in numba.prange(state.size >> low):
        base = index << low
        for qubit in range(low):
            bit = 1 << qubit
            for start in range(base, base + block, 2 * bit):
                for z in range(start, start + bit):
                    _rx_pair(state, z, z + bit, c, s)


@numba.njit(parallel=True, cache=True)
def _rx_two_high_qubits(state: np.ndarray, qubit: int, beta: float) -> None:
    """RX(2 beta) on qubits ``qubit`` and ``qubit + 1`` in one pass (groups of four amplitudes)."""
    c, s = np.cos(beta), np.sin(beta)
    bit = 1 << qubit
    mask = bit - 1
    for j in numba.prange(state.size >> 2):
        z = ((j & ~mask) << 2) | (j & mask)
        _rx_pair(state, z, z | bit, c, s)
        _rx_pair(state, z | (bit << 1), z | bit | (bit << 1), c, s)
        _rx_pair(state, z, z | (bit << 1), c, s)
        _rx_pair(state, z | bit, z | bit | (bit << 1), c, s)


@numba.njit(parallel=True, cache=True)
def _rx_one_qubit(state: np.ndarray, qubit: int, beta: float) -> None:
    c, s = np.cos(beta), np.sin(beta)
    bit = 1 << qubit
    mask = bit - 1
    for j in numba.prange(state.size >> 1):
        z = ((j & ~mask) << 1) | (j & mask)
        _rx_pair(state, z, z | bit, c, s)


@numba.njit(parallel=True, cache=True)
def _expectation(state: np.ndarray, diagonal: np.ndarray) -> float:
    total = 0.0
    for z in numba.prange(state.size):
        total += (state[z].real ** 2 + state[z].imag ** 2) * diagonal[z]
    return total


@numba.njit(parallel=True, cache=True)
def _probabilities(state: np.ndarray, out: np.ndarray) -> None:
    for z in numba.prange(state.size):
        out[z] = state[z].real ** 2 + state[z].imag ** 2


def apply_x_mixer(state: np.ndarray, num_qubits: int, beta: float) -> None:
    """exp(-i beta sum X) in place: low qubits blockwise in cache, high qubits two per pass."""
    low = min(num_qubits, BLOCK_QUBITS)
    _rx_low_qubits(state, low, beta)
    qubit = low
    while qubit + 1 < num_qubits:
        _rx_two_high_qubits(state, qubit, beta)
        qubit += 2
    if qubit < num_qubits:
        _rx_one_qubit(state, qubit, beta)


@numba.njit(parallel=True, cache=True)
def _apply_xy(state: np.ndarray, qubit_a: int, qubit_b: int, beta: float) -> None:
    """exp(-i beta (XX + YY) / 2) on two qubits: rotates |01> and |10> into each other.

    Visits only the quarter of the indices with both bits clear (zeros
    inserted at the two positions), like the RX kernels.
    """
    c, s = np.cos(beta), np.sin(beta)
    low, high = min(qubit_a, qubit_b), max(qubit_a, qubit_b)
    low_mask, high_mask = (1 << low) - 1, (1 << high) - 1
    for j in numba.prange(state.size >> 2):
        z = ((j & ~low_mask) << 1) | (j & low_mask)
        z = ((z & ~high_mask) << 1) | (z & high_mask)
        _rx_pair(
            state, z | (1 << qubit_a), z | (1 << qubit_b), c, s
        )  # the same rotation, on |10> and |01>


@numba.njit(parallel=True, cache=True)
def _offsets(diagonal: np.ndarray, low: float, out: np.ndarray) -> None:
    for z in numba.prange(diagonal.size):
        out[z] = np.int32(np.rint(diagonal[z] - low))


def _integer_phase_table(qubo: Qubo, diagonal: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """For a QUBO with integer weights (as task allocation is scaled to), C - constant takes
    at most max - min + 1 integer values: (those values, each state's index into them), so a
    phase layer is a lookup instead of a sine and cosine per amplitude. None otherwise."""
    weights = np.concatenate([qubo.linear, qubo.quadratic.ravel()])
    if not np.array_equal(weights, np.rint(weights)):
        return None
    low, high = diagonal.min() - qubo.constant, diagonal.max() - qubo.constant
    if high - low >= MAX_PHASE_TABLE:
        return None
    levels = np.empty(diagonal.size, dtype=np.int32)
    _offsets(diagonal, low + qubo.constant, levels)
    return np.rint(low) + np.arange(np.rint(high - low) + 1), levels


def check_initial(
    num_qubits: int, groups: list[list[int]] | None, initial: np.ndarray | None
) -> None:
    """The XY mixer needs disjoint groups and a start with exactly one 1 in each (and 0 on the
    qubits in no group, which start in |+>); the X mixer starts from |+>^n."""
    if groups is None:
        if initial is not None:
            raise ValueError(
                "an initial basis state goes with the XY mixer (groups); "
                "the X mixer starts from |+>^n"
            )
        return
    members = [q for group in groups for q in group]
    if len(set(members)) != len(members) or not all(0 <= q < num_qubits for q in members):
        raise ValueError("one-hot groups must be disjoint lists of qubit indices")
    if initial is None or np.shape(initial) != (num_qubits,):
        raise ValueError(f"the XY mixer needs an initial basis state of {num_qubits} bits")
    if any(int(np.sum(np.asarray(initial)[group])) != 1 for group in groups):
        raise ValueError("the initial state must have exactly one 1 in every one-hot group")
    if np.any(np.asarray(initial)[free_qubits(num_qubits, groups)]):
        raise ValueError("qubits in no one-hot group start in |+>: their initial bits must be 0")


def free_qubits(num_qubits: int, groups: list[list[int]]) -> np.ndarray:
    """The qubits in no one-hot group, in increasing order."""
    grouped = np.zeros(num_qubits, dtype=bool)
    grouped[[q for group in groups for q in group]] = True
    return np.flatnonzero(~grouped)


def initial_states(
    num_qubits: int, groups: list[list[int]], initial: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The XY mixer's start, the one-hot basis state ``initial`` times |+> on every free
    qubit: (the free qubits, the 2^free basis states it spreads over evenly)."""
    free = free_qubits(num_qubits, groups)
    base = int(np.dot(np.asarray(initial, dtype=np.int64), 1 << np.arange(num_qubits)))
    subsets = np.arange(1 << free.size)
    return free, base + ((subsets[:, None] >> np.arange(free.size)) & 1) @ (1 << free)


def reorder_free_first(
    qubo: Qubo, groups: list[list[int]], initial: np.ndarray
) -> tuple[Qubo, list[list[int]], np.ndarray, np.ndarray]:
    """The same problem with the qubits in no group renumbered first (so their mixer is one
    blocked pass): (qubo, groups, initial, order) where new qubit k is old qubit ``order[k]``."""
    free = free_qubits(qubo.num_qubits, groups)
    order = np.concatenate([free, [q for group in groups for q in group]]).astype(np.int64)
    position = np.empty_like(order)
    position[order] = np.arange(order.size)
    square = qubo.quadratic + qubo.quadratic.T
    permuted = square[np.ix_(order, order)]
    reordered = Qubo(qubo.linear[order], np.triu(permuted, 1), qubo.constant)
    return (
        reordered,
        [[int(position[q]) for q in group] for group in groups],
        np.asarray(initial)[order],
        order,
    )


def ring_edges(groups: list[list[int]]) -> list[tuple[int, int]]:
    """XY-mixer edges per one-hot group: even ring edges, odd ring edges, then the closing edge."""
    edges: list[tuple[int, int]] = []
    for group in groups:
        size = len(group)
        if size < 2:
            continue
        path = [(group[k], group[k + 1]) for k in range(size - 1)]
        edges += path[0::2] + path[1::2]
        if size > 2:
            edges.append((group[-1], group[0]))
    return edges


class QaoaEngine:
    """QAOA states, expectation values and samples for one cost diagonal.

    ``groups``: one-hot groups of qubits for the XY mixer (None: X mixer).
    ``initial``: the basis state to start from with the XY mixer (one 1 per group).
    ``single_precision``: keep the state in complex64, halving its memory (for
    large n); the kernels still compute each rotation in double precision.
    """

    def __init__(
        self,
        qubo: Qubo,
        groups: list[list[int]] | None = None,
        initial: np.ndarray | None = None,
        single_precision: bool = False,
    ):
        self.qubo = qubo
        self.num_qubits = qubo.num_qubits
        self.diagonal = cost_diagonal(qubo)
        self._phase_table = _integer_phase_table(qubo, self.diagonal)
        check_initial(self.num_qubits, groups, initial)
        self.edges = ring_edges(groups) if groups is not None else None
        if groups is None:
            self.free = np.arange(self.num_qubits)
        else:
            assert initial is not None, "check_initial: the XY mixer has a start"
            self.free, self.initial = initial_states(self.num_qubits, groups, initial)
        self._buffer = np.empty(
            1 << self.num_qubits, dtype=np.complex64 if single_precision else np.complex128
        )

    def _apply_phase(self, state: np.ndarray, gamma: float) -> None:
        if self._phase_table is None:
            _phase(state, self.diagonal, float(self.qubo.constant), gamma)
        else:
            values, levels = self._phase_table
            _phase_from_table(state, levels, np.exp(-1j * gamma * values))

    def _evolve(self, gammas: LayerAngles, betas: LayerAngles) -> np.ndarray:
        """The QAOA state in the engine's own buffer (overwritten by the next call)."""
        if len(gammas) != len(betas):
            raise ValueError("gammas and betas must have the same length (the depth p)")
        state = self._buffer
        if self.edges is None:
            state.fill(2 ** (-self.num_qubits / 2))
        else:
            state.fill(0.0)
            state[self.initial] = 2 ** (-self.free.size / 2)
        for gamma, beta in zip(gammas, betas, strict=True):
            self._apply_phase(state, float(gamma))
            if self.edges is None:
                apply_x_mixer(state, self.num_qubits, float(beta))
            else:
                for a, b in self.edges:
                    _apply_xy(state, a, b, float(beta))
                self._free_mixer(state, float(beta))
        return state

    def _free_mixer(self, state: np.ndarray, beta: float) -> None:
        """RX on the qubits in no group: one cache-blocked pass when they are the lowest qubits."""
        count = self.free.size
        if count and count <= BLOCK_QUBITS and self.free[-1] == count - 1:
            _rx_low_qubits(state, count, beta)
            return
        for qubit in self.free:
            _rx_one_qubit(state, int(qubit), beta)

    def state(self, gammas: LayerAngles, betas: LayerAngles) -> np.ndarray:
        """The state after ``len(gammas)`` layers with these angles (a new array)."""
        return self._evolve(gammas, betas).copy()

    def probabilities(self, gammas: LayerAngles, betas: LayerAngles) -> np.ndarray:
        state = self._evolve(gammas, betas)
        out = np.empty(state.size)
        _probabilities(state, out)
        return out

    def expectation(self, gammas: LayerAngles, betas: LayerAngles) -> float:
        """<C> in the QAOA state, exactly (a compiled reduction: no BLAS threads
        competing with the kernels' threads, no temporaries)."""
        return float(_expectation(self._evolve(gammas, betas), self.diagonal))

    def diagonal_bounds(self) -> tuple[float, float]:
        """(min, max) of C over all basis states."""
        return float(self.diagonal.min()), float(self.diagonal.max())

    def ground_states(self, tolerance: float = 1e-9) -> np.ndarray:
        """Every basis state of least cost (within ``tolerance``)."""
        return np.flatnonzero(self.diagonal <= self.diagonal.min() + tolerance)

    def probabilities_of(
        self, gammas: LayerAngles, betas: LayerAngles, states: np.ndarray
    ) -> np.ndarray:
        """The probabilities of the basis states ``states``."""
        return self.probabilities(gammas, betas)[np.asarray(states, dtype=np.int64)]

    def sample(
        self, gammas: LayerAngles, betas: LayerAngles, shots: int, rng: np.random.Generator
    ) -> dict[int, int]:
        """Measured basis states (as integers) and their counts."""
        probabilities = self.probabilities(gammas, betas)
        counts = rng.multinomial(shots, probabilities / probabilities.sum())
        return {
            int(z): int(c) for z, c in zip(np.flatnonzero(counts), counts[counts > 0], strict=True)
        }
