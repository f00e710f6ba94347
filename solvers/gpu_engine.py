"""The QAOA engine on a CUDA GPU: `engine.QaoaEngine`'s layers as numba-cuda kernels.

Once the state outgrows the device's caches, a QAOA layer is bound by memory
traffic: the state (2^n amplitudes, 8 GiB at 30 qubits in complex64) fits no
cache, and a kernel per gate would read and write all of it once per qubit.
So a layer is planned here as a few passes (`plan_passes`), each one kernel
over the whole state:

- a pass loads *tiles* of ``2^(LOW_QUBITS + k)`` amplitudes into shared memory:
  the ``LOW_QUBITS`` lowest qubits (16 neighbouring amplitudes: whole 128-byte
  lines in complex64, so loads coalesce) times ``k`` further qubits of the
  pass's choosing, ``LOW_QUBITS + k <= TILE_QUBITS``;
- every gate whose qubits lie in the tile (RX of the X mixer, two at a time
  where they neighbour, and the XY mixer's two-qubit rotations, in their order)
  is applied there, computed in double precision and rounded to the state's
  precision after each gate as the CPU engine does, and the tile is written
  back once;
- the cost phase ``exp(-i gamma (C - constant))`` is applied as the first pass
  loads its tile, so it costs no pass of its own.

An X-mixer layer on 30 or 32 qubits is then 4 passes; the XY mixer packs as
many one-hot groups into a pass as fit. Expectation values and ground-state
probabilities are block sums over a fixed partition of the state, added on
the host in a fixed order (the same inputs give the same bits, unlike atomic
adds). Sampling is the multinomial law in two stages: tile totals on the
device, counts per tile drawn on the host, then counts within the few tiles
that drew any, from just those tiles' amplitudes: O(shots x tile) bytes back
to the host, not O(2^n).

Without a CUDA device the same kernels run in numba's CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1``, set before numba.cuda is imported), one Python
thread per GPU thread: slow, but it is how the tests pin these kernels to
the CPU engine on machines without a GPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from numba import complex64, complex128, float64, int32, int64
from numba.core.types import Type as NumbaType

from qsched.solvers.engine import Qubo, check_initial, initial_states, ring_edges
from qsched.solvers.parameters import Angles
from qsched.solvers.typed_cuda import DeviceArray, Kernel, cuda, device_function, kernel

#: Lowest qubits in every tile: 16 neighbouring amplitudes per row of a tile.
LOW_QUBITS = 4
#: Qubits of a tile: 2^11 amplitudes, 16 or 32 KiB of shared memory.
TILE_QUBITS = 11
TILE = 1 << TILE_QUBITS
#: Offsets of a tile's rows (its qubits above the low ones; at least one qubit is low).
HIGH_TILE = TILE >> 1
#: Threads per block (a power of two; the reductions halve it).
THREADS = 256
#: Amplitudes per thread in a full tile: loops run this many fixed trips (unrolled, so a
#: thread's loads are all in flight at once) instead of striding to a runtime bound.
PER_THREAD = TILE // THREADS
ONE = np.int32(1)
#: Blocks of the expectation's reduction: a fixed partition, so a fixed summation order.
REDUCTION_BLOCKS = 1024
#: Gate kinds in a pass: RX on one position, the XY rotation on two, RX on two in one sweep.
RX, XY, RX2 = 0, 1, 2
PROBABILITY, WEIGHTED = 0, 1

#: A state's amplitudes inside a kernel (complex64 or complex128).
StateView = npt.NDArray[np.complexfloating[Any, Any]]
#: A pass's own kernel arguments (`GpuQaoaEngine._upload`): `tile_pass`'s ``low`` to
#: ``gate_count``.
PassArguments = tuple[int, DeviceArray, int, int, DeviceArray, int]


def gpu_available() -> bool:
    """A CUDA device is present (or numba's CUDA simulator is on)."""
    return bool(cuda.is_available())


@dataclass(frozen=True)
class Pass:
    """One kernel over the state: tiles of the low qubits and ``qubits``, then ``gates``
    (kind, tile position, tile position or -1) applied inside each tile."""

    low: int
    qubits: tuple[int, ...]
    gates: tuple[tuple[int, int, int], ...]


def plan_passes(
    num_qubits: int,
    gates: list[tuple[int, int, int]],
    low_qubits: int = LOW_QUBITS,
    tile_qubits: int = TILE_QUBITS,
) -> list[Pass]:
    """Gates (kind, qubit, qubit or -1), in order, packed into passes whose tiles
    (``low_qubits`` plus up to ``tile_qubits - low_qubits`` more) hold all their qubits.

    Keeping the order keeps the layer's meaning even where gates share qubits. Of the
    plans with the fewest passes, the one with the smallest tiles is taken: it spreads
    the qubits evenly (26 qubits of RX as 6 + 6 + 6 + 4 qubits above the low ones, not
    7 + 7 + 7 + 1, whose last pass would run 16-amplitude tiles). At least one pass,
    since the first one also applies the phase.
    """
    if not 2 <= tile_qubits <= TILE_QUBITS or not 1 <= low_qubits <= tile_qubits - 2:
        raise ValueError(f"tiles take 2 to {TILE_QUBITS} qubits, at least one low and two others")
    low = min(low_qubits, num_qubits)
    room = max(min(tile_qubits, num_qubits) - low, 0)
    best = _greedy_passes(gates, low, room)
    while room > 2:
        room -= 1
        smaller = _greedy_passes(gates, low, room)
        if len(smaller) > len(best):
            break
        best = smaller
    return [Pass(p.low, p.qubits, _paired(p.gates)) for p in best]


def _greedy_passes(gates: list[tuple[int, int, int]], low: int, room: int) -> list[Pass]:
    """Each gate into the current pass while its qubits above ``low`` fit ``room``."""
    passes: list[Pass] = []
    qubits: list[int] = []
    placed: list[tuple[int, int, int]] = []

    def position(qubit: int) -> int:
        return qubit if qubit < low else low + qubits.index(qubit)

    for kind, a, b in gates:
        needed = [q for q in dict.fromkeys((a, b)) if q >= low and q not in qubits]
        if len(qubits) + len(needed) > room:
            passes.append(Pass(low, tuple(qubits), tuple(placed)))
            qubits, placed = [], []
            needed = [q for q in dict.fromkeys((a, b)) if q >= low]
        qubits += needed
        placed.append((kind, position(a), position(b) if b >= 0 else -1))
    if placed or not passes:
        passes.append(Pass(low, tuple(qubits), tuple(placed)))
    return passes


def _paired(gates: tuple[tuple[int, int, int], ...]) -> tuple[tuple[int, int, int], ...]:
    """Neighbouring RX gates as one RX2 sweep: half the trips through shared memory."""
    out: list[tuple[int, int, int]] = []
    for gate in gates:
        if gate[0] == RX and out and out[-1][0] == RX and out[-1][1] != gate[1]:
            out[-1] = (RX2, out[-1][1], gate[1])
        else:
            out.append(gate)
    return tuple(out)


@device_function
def _insert_zero(index: np.int32, position: np.int32) -> np.int32:
    """``index`` with a 0 bit inserted at ``position`` (int32 tile arithmetic)."""
    return ((index >> position) << (position + ONE)) | (index & ((ONE << position) - ONE))


@device_function
def _rx_values(x: complex, y: complex, c: float, s: float) -> tuple[complex, complex]:
    """(c x - i s y, c y - i s x): RX on one pair, in the CPU engine's arithmetic."""
    return (
        complex(c * x.real + s * y.imag, c * x.imag - s * y.real),
        complex(c * y.real + s * x.imag, c * y.imag - s * x.real),
    )


def _tile_pass_kernel(element: NumbaType) -> Kernel:
    """The pass kernel for states of numba type ``element``: the tile in shared memory has
    the state's own type, so each gate rounds as the CPU engine's does."""

    @kernel
    def tile_pass(
        state: StateView,
        diagonal: npt.NDArray[np.float64],
        constant: float,
        gamma: float,
        phase: bool,
        num_qubits: int,
        low: int,
        qubits: npt.NDArray[np.int64],
        count: int,
        mask: int,
        gates: npt.NDArray[np.int32],
        gate_count: int,
        c: float,
        s: float,
    ) -> None:
        """One pass (`Pass`): load a tile (applying the cost phase if ``phase``), apply the
        gates in shared memory, store it."""
        tile = cuda.shared.array(TILE, element)
        offsets = cuda.shared.array(HIGH_TILE, int64)
        thread, threads = int32(cuda.threadIdx.x), int32(cuda.blockDim.x)
        low32 = int32(low)
        size = ONE << int32(low + count)
        for h in range(thread, ONE << int32(count), threads):
            offset = int64(0)
            for k in range(count):
                if (h >> k) & 1:
                    offset |= int64(1) << qubits[k]
            offsets[h] = offset
        base = int64(0)
        rest = int64(cuda.blockIdx.x)
        for bit in range(num_qubits):
            if not (mask >> bit) & 1:
                base |= (rest & 1) << bit
                rest >>= 1
        low_mask = (ONE << low32) - ONE
        cuda.syncthreads()
        for r in range(PER_THREAD):
            t = r * threads + thread
            if t < size:
                z = base | (t & low_mask) | offsets[t >> low32]
                value = state[z]
                if phase:
                    angle = -gamma * (diagonal[z] - constant)
                    value = value * complex(math.cos(angle), math.sin(angle))
                tile[t] = value
        cuda.syncthreads()
        for g in range(gate_count):
            kind, a, b = gates[g, 0], gates[g, 1], gates[g, 2]
            if kind == RX:
                for r in range(PER_THREAD // 2):
                    j = r * threads + thread
                    if j < size >> ONE:
                        t = _insert_zero(j, a)
                        u = t | (ONE << a)
                        tile[t], tile[u] = _rx_values(tile[t], tile[u], c, s)
            elif kind == RX2:  # RX on a, then on b, four amplitudes in registers
                a_bit, b_bit = ONE << a, ONE << b
                for r in range(PER_THREAD // 4):
                    j = r * threads + thread
                    if j < size >> 2:
                        t = _insert_zero(_insert_zero(j, min(a, b)), max(a, b))
                        v0, v1 = _rx_values(tile[t], tile[t | a_bit], c, s)
                        v2, v3 = _rx_values(tile[t | b_bit], tile[t | a_bit | b_bit], c, s)
                        tile[t], tile[t | b_bit] = _rx_values(v0, v2, c, s)
                        tile[t | a_bit], tile[t | a_bit | b_bit] = _rx_values(v1, v3, c, s)
            else:  # XY: rotates |..1_a..0_b..> and |..0_a..1_b..> into each other
                for r in range(PER_THREAD // 4):
                    j = r * threads + thread
                    if j < size >> 2:
                        t = _insert_zero(_insert_zero(j, min(a, b)), max(a, b))
                        u, v = t | (ONE << a), t | (ONE << b)
                        tile[u], tile[v] = _rx_values(tile[u], tile[v], c, s)
            cuda.syncthreads()
        for r in range(PER_THREAD):
            t = r * threads + thread
            if t < size:
                state[base | (t & low_mask) | offsets[t >> low32]] = tile[t]

    return tile_pass


_TILE_PASS = {
    np.dtype(np.complex64): _tile_pass_kernel(complex64),
    np.dtype(np.complex128): _tile_pass_kernel(complex128),
}


@kernel
def _cost_diagonal(
    num_qubits: int,
    linear: npt.NDArray[np.float64],
    pair_i: npt.NDArray[np.int64],
    pair_j: npt.NDArray[np.int64],
    pair_w: npt.NDArray[np.float64],
    constant: float,
    out: npt.NDArray[np.float64],
) -> None:
    """C(z) for every z, in the CPU engine's order of additions (the same float64 values)."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for z in range(start, out.size, stride):
        total = constant
        for i in range(num_qubits):
            if (z >> i) & 1:
                total += linear[i]
        for k in range(pair_i.size):
            if (z >> pair_i[k]) & 1 and (z >> pair_j[k]) & 1:
                total += pair_w[k]
        out[z] = total


@kernel
def _fill(state: StateView, value: float) -> None:
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for z in range(start, state.size, stride):
        state[z] = value


@kernel
def _scatter(state: StateView, indices: npt.NDArray[np.int64], value: float) -> None:
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for k in range(start, indices.size, stride):
        state[indices[k]] = value


@kernel
def _gather_probabilities(
    state: StateView, tiles: npt.NDArray[np.int64], out: npt.NDArray[np.float64]
) -> None:
    """out[k, i] = |state[tiles[k] * width + i]|^2: rows of ``width`` amplitudes (the tiles that
    drew samples, or single basis states), in one copy to the host."""
    width = out.shape[1]
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for k in range(start, out.size, stride):
        row, column = k // width, k % width
        amplitude = state[tiles[row] * width + column]
        out[row, column] = amplitude.real**2 + amplitude.imag**2


@device_function
def _block_sum(partial: npt.NDArray[np.float64], total: float) -> float:
    """The sum of ``total`` over the block's threads (a power of two), in a fixed order."""
    thread = cuda.threadIdx.x
    partial[thread] = total
    cuda.syncthreads()
    step = cuda.blockDim.x >> 1
    while step:
        if thread < step:
            partial[thread] += partial[thread + step]
        cuda.syncthreads()
        step >>= 1
    block_total: float = partial[0]
    return block_total


@kernel
def _partial_sums(
    state: StateView,
    diagonal: npt.NDArray[np.float64],
    mode: int,
    items: int,
    out: npt.NDArray[np.float64],
) -> None:
    """out[b]: the sum over amplitudes [b items, (b + 1) items) of |amplitude|^2 (``mode``
    PROBABILITY) or of |amplitude|^2 C (WEIGHTED)."""
    partial = cuda.shared.array(THREADS, float64)
    start = cuda.blockIdx.x * items
    total = 0.0
    for z in range(start + cuda.threadIdx.x, start + items, cuda.blockDim.x):
        p = state[z].real ** 2 + state[z].imag ** 2
        if mode == WEIGHTED:
            p *= diagonal[z]
        total += p
    block = _block_sum(partial, total)
    if cuda.threadIdx.x == 0:
        out[cuda.blockIdx.x] = block


@kernel
def _partial_extrema(
    diagonal: npt.NDArray[np.float64],
    items: int,
    lows: npt.NDArray[np.float64],
    highs: npt.NDArray[np.float64],
) -> None:
    """(min, max) of C over each block's range of basis states."""
    low_part = cuda.shared.array(THREADS, float64)
    high_part = cuda.shared.array(THREADS, float64)
    thread, threads = cuda.threadIdx.x, cuda.blockDim.x
    start = cuda.blockIdx.x * items
    low, high = math.inf, -math.inf
    for z in range(start + thread, start + items, threads):
        low, high = min(low, diagonal[z]), max(high, diagonal[z])
    low_part[thread], high_part[thread] = low, high
    cuda.syncthreads()
    step = threads >> 1
    while step:
        if thread < step:
            low_part[thread] = min(low_part[thread], low_part[thread + step])
            high_part[thread] = max(high_part[thread], high_part[thread + step])
        cuda.syncthreads()
        step >>= 1
    if thread == 0:
        lows[cuda.blockIdx.x], highs[cuda.blockIdx.x] = low_part[0], high_part[0]


def _threads(size: int) -> int:
    """Threads per block for ``size`` work items: `THREADS`, fewer for tiny states."""
    return min(THREADS, 1 << max(size - 1, 1).bit_length())


def _strided(size: int) -> tuple[int, int]:
    """(blocks, threads) for a grid-stride kernel over ``size`` items."""
    threads = _threads(size)
    return min(-(-size // threads), 4096), threads


class GpuQaoaEngine:
    """`engine.QaoaEngine` on a CUDA device: the same constructor and methods, the same states
    and expectation values; samples follow the same distribution but are drawn in two stages
    (`sample`), so a seed does not give the CPU engine's samples. The state and cost diagonal
    stay on the device.

    ``single_precision`` (the default here, unlike the CPU engine): the state in complex64
    (half the memory); each gate is still computed in double precision, as on the CPU engine.
    ``low_qubits`` and ``tile_qubits`` shape the tiles (`plan_passes`); smaller tiles than
    the defaults only serve to exercise multi-pass plans on small states.
    """

    def __init__(
        self,
        qubo: Qubo,
        groups: list[list[int]] | None = None,
        initial: npt.NDArray[np.int64] | None = None,
        single_precision: bool = True,
        low_qubits: int = LOW_QUBITS,
        tile_qubits: int = TILE_QUBITS,
    ):
        check_initial(qubo.num_qubits, groups, initial)
        self.qubo = qubo
        self.num_qubits = n = qubo.num_qubits
        self.size = 1 << n
        dtype = np.complex64 if single_precision else np.complex128
        needed = self.size * (np.dtype(dtype).itemsize + 8)
        free, _ = cuda.current_context().get_memory_info()
        if needed > free:
            raise MemoryError(
                f"{n} qubits take {needed / 2**30:.1f} GiB of device memory (state and costs); "
                f"the device has {free / 2**30:.1f} GiB free: lower max_qubits or window_qubits"
            )
        self._state = cuda.device_array(self.size, dtype=dtype)
        self.diagonal = cuda.device_array(self.size, dtype=np.float64)
        pair_i, pair_j, pair_w = qubo.pairs()
        if not pair_i.size:  # a kernel argument cannot be empty: one zero-weight pair instead
            pair_i, pair_j, pair_w = np.zeros(1, np.int64), np.zeros(1, np.int64), np.zeros(1)
        _cost_diagonal[_strided(self.size)](
            n,
            cuda.to_device(qubo.linear.astype(np.float64)),
            cuda.to_device(pair_i),
            cuda.to_device(pair_j),
            cuda.to_device(pair_w),
            float(qubo.constant),
            self.diagonal,
        )
        self._initial: tuple[DeviceArray, float] | None = None
        if groups is None:
            gates = [(RX, q, -1) for q in range(n)]
        else:
            assert initial is not None, "check_initial: the XY mixer has a start"
            free_qubits, starts = initial_states(n, groups, initial)
            self._initial = (cuda.to_device(starts), 2 ** (-free_qubits.size / 2))
            # RX on the free qubits commutes with every XY edge (no shared qubit): first.
            gates = [(RX, int(q), -1) for q in free_qubits]
            gates += [(XY, a, b) for a, b in ring_edges(groups)]
        self.passes = [self._upload(p) for p in plan_passes(n, gates, low_qubits, tile_qubits)]

    def _upload(self, planned: Pass) -> tuple[tuple[int, int], PassArguments]:
        """A pass's grid and its own kernel arguments (`tile_pass` from ``low`` to
        ``gate_count``): tile qubits and gates on the device, the tile's mask."""
        # A kernel argument cannot be empty: a pass without qubits or gates gets a padding row.
        qubits = np.array(planned.qubits or (0,), dtype=np.int64)
        gates = np.array(planned.gates or ((RX, 0, -1),), dtype=np.int32)
        mask = sum(1 << q for q in range(planned.low)) | sum(1 << q for q in planned.qubits)
        tile = 1 << (planned.low + len(planned.qubits))
        grid = (self.size // tile, _threads(tile // 2))
        arguments: PassArguments = (
            planned.low,
            cuda.to_device(qubits),
            len(planned.qubits),
            mask,
            cuda.to_device(gates),
            len(planned.gates),
        )
        return grid, arguments

    def _evolve(self, gammas: Angles, betas: Angles) -> DeviceArray:
        """The QAOA state in the engine's device buffer (overwritten by the next call)."""
        if len(gammas) != len(betas):
            raise ValueError("gammas and betas must have the same length (the depth p)")
        state = self._state
        if self._initial is None:
            _fill[_strided(self.size)](state, 2 ** (-self.num_qubits / 2))
        else:
            starts, amplitude = self._initial
            _fill[_strided(self.size)](state, 0.0)
            _scatter[_strided(starts.size)](state, starts, amplitude)
        constant = float(self.qubo.constant)
        tile_pass = _TILE_PASS[state.dtype]
        for gamma, beta in zip(gammas, betas, strict=True):
            c, s = math.cos(float(beta)), math.sin(float(beta))
            for k, (grid, arguments) in enumerate(self.passes):
                first = k == 0  # the pass that applies the cost phase
                tile_pass[grid](
                    state,
                    self.diagonal,
                    constant,
                    float(gamma),
                    first,
                    self.num_qubits,
                    *arguments,
                    c,
                    s,
                )
        return state

    def _sums(self, state: DeviceArray, mode: int, items: int) -> npt.NDArray[np.float64]:
        """Per-block sums (`_partial_sums`) over blocks of ``items`` amplitudes, on the host."""
        out = cuda.device_array(self.size // items, dtype=np.float64)
        _partial_sums[self.size // items, _threads(items)](state, self.diagonal, mode, items, out)
        return out.copy_to_host()

    def _reduction_items(self) -> int:
        """Amplitudes per block of a reduction: `REDUCTION_BLOCKS` blocks, or one per
        `THREADS` amplitudes when the state is small."""
        return min(self.size, max(self.size // REDUCTION_BLOCKS, THREADS))

    def state(self, gammas: Angles, betas: Angles) -> npt.NDArray[np.complexfloating[Any, Any]]:
        """The state after ``len(gammas)`` layers with these angles (on the host)."""
        return self._evolve(gammas, betas).copy_to_host()

    def probabilities(self, gammas: Angles, betas: Angles) -> npt.NDArray[np.float64]:
        state = self.state(gammas, betas)
        return state.real.astype(np.float64) ** 2 + state.imag.astype(np.float64) ** 2

    def expectation(self, gammas: Angles, betas: Angles) -> float:
        """<C> in the QAOA state: block sums on the device, their sum on the host."""
        state = self._evolve(gammas, betas)
        return float(self._sums(state, WEIGHTED, self._reduction_items()).sum())

    def _block_extrema(self) -> tuple[int, npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """(items per block, each block's least C, each block's greatest C)."""
        items = self._reduction_items()
        blocks = self.size // items
        lows = cuda.device_array(blocks, dtype=np.float64)
        highs = cuda.device_array(blocks, dtype=np.float64)
        _partial_extrema[blocks, _threads(items)](self.diagonal, items, lows, highs)
        return items, lows.copy_to_host(), highs.copy_to_host()

    def diagonal_bounds(self) -> tuple[float, float]:
        """(min, max) of C over all basis states."""
        _, lows, highs = self._block_extrema()
        return float(lows.min()), float(highs.max())

    def ground_states(self, tolerance: float = 1e-9) -> npt.NDArray[np.int64]:
        """Every basis state of least cost (within ``tolerance``): only the blocks whose least
        cost is low enough come back to the host."""
        items, lows, _ = self._block_extrema()
        threshold = lows.min() + tolerance
        found = [
            block * items
            + np.flatnonzero(
                self.diagonal[block * items : (block + 1) * items].copy_to_host() <= threshold
            )
            for block in np.flatnonzero(lows <= threshold)
        ]
        return np.concatenate(found).astype(np.int64)

    def probabilities_of(
        self, gammas: Angles, betas: Angles, states: npt.ArrayLike
    ) -> npt.NDArray[np.float64]:
        """The probabilities of the basis states ``states`` alone (no 2^n copy to the host)."""
        state = self._evolve(gammas, betas)
        indices = np.asarray(states, dtype=np.int64)
        if not indices.size:
            return np.zeros(0)
        out = cuda.device_array((indices.size, 1), dtype=np.float64)
        _gather_probabilities[_strided(indices.size)](state, cuda.to_device(indices), out)
        return out.copy_to_host().ravel()

    def sample(
        self, gammas: Angles, betas: Angles, shots: int, rng: np.random.Generator
    ) -> dict[int, int]:
        """Measured basis states (as integers) and their counts: counts per tile from the
        tiles' totals, then counts within each tile that drew any."""
        if shots == 0:
            return {}
        state = self._evolve(gammas, betas)
        tile = min(TILE, self.size)
        totals = self._sums(state, PROBABILITY, tile)
        per_tile = rng.multinomial(shots, totals / totals.sum())
        drawn = np.flatnonzero(per_tile)
        weights = cuda.device_array((drawn.size, tile), dtype=np.float64)
        _gather_probabilities[_strided(weights.size)](state, cuda.to_device(drawn), weights)
        counts: dict[int, int] = {}
        for index, row in zip(drawn, weights.copy_to_host(), strict=True):
            within = rng.multinomial(per_tile[index], row / row.sum())
            for offset in np.flatnonzero(within):
                counts[int(index) * tile + int(offset)] = int(within[offset])
        return counts
