"""The CUDA engine pinned to the CPU engine: the same states and expectation values, and
samples that follow the state.

Without a CUDA device (CI) the kernels run in numba's CUDA simulator, which the
conftest turns on (``NUMBA_ENABLE_CUDASIM=1``): the very kernel code, one
Python thread per GPU thread, so sizes here are small and multi-pass plans are
forced with small tiles. ``QSCHED_TEST_GPU=1`` runs the same tests on the
machine's GPU, where the tests marked `requires_gpu` also run at 20 qubits.

Only numpy, numba and the two engine modules are imported here, so the file runs
on a GPU machine that has nothing else of qsched's dependencies.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import config, cuda

from qsched.solvers.engine import QaoaEngine, Qubo, reorder_free_first
from qsched.solvers.gpu_engine import RX, RX2, XY, GpuQaoaEngine, plan_passes

requires_gpu = pytest.mark.skipif(
    config.ENABLE_CUDASIM or not cuda.is_available(), reason="needs a CUDA device"
)
#: Pins of the state vector against the CPU engine, by precision (the issue's bounds).
TOLERANCE = {True: 1e-6, False: 1e-10}
ANGLES = ([0.31, 0.72], [0.55, 0.18])


def random_qubo(num_qubits: int, seed: int) -> Qubo:
    rng = np.random.default_rng(seed)
    quadratic = np.triu(rng.integers(-4, 5, (num_qubits, num_qubits)).astype(float), 1)
    return Qubo(rng.integers(-6, 6, num_qubits).astype(float), quadratic, 1.5)


def allocation_like(tasks: int, machines: int, slack: int, seed: int):
    """A QUBO with one-hot groups of ``machines`` qubits per task after ``slack`` free qubits,
    started from task k on machine k mod machines: the XY mixer's shape in the qaoa solver."""
    n = slack + tasks * machines
    groups = [[slack + t * machines + m for m in range(machines)] for t in range(tasks)]
    initial = np.zeros(n, dtype=np.int64)
    for t, group in enumerate(groups):
        initial[group[t % machines]] = 1
    return random_qubo(n, seed), groups, initial


def assert_pinned(cpu: QaoaEngine, gpu: GpuQaoaEngine, single: bool) -> None:
    gammas, betas = ANGLES
    difference = np.abs(gpu.state(gammas, betas) - cpu.state(gammas, betas)).max()
    assert difference < TOLERANCE[single]
    assert gpu.expectation(gammas, betas) == pytest.approx(
        cpu.expectation(gammas, betas), abs=100 * TOLERANCE[single]
    )


@pytest.mark.parametrize("single", [False, True])
def test_x_mixer_matches_the_cpu_engine(single):
    qubo = random_qubo(6, seed=1)
    assert_pinned(QaoaEngine(qubo), GpuQaoaEngine(qubo, single_precision=single), single)


@pytest.mark.parametrize("single", [False, True])
def test_xy_mixer_with_free_qubits_matches_the_cpu_engine(single):
    qubo, groups, initial = allocation_like(tasks=2, machines=3, slack=1, seed=2)
    cpu = QaoaEngine(qubo, groups, initial)
    assert_pinned(cpu, GpuQaoaEngine(qubo, groups, initial, single_precision=single), single)


@pytest.mark.parametrize("mixer", ["x", "xy"])
def test_plans_of_several_passes_match_the_cpu_engine(mixer):
    """Tiles of 4 qubits force 3-pass layers on 7 qubits: tile addressing, gates split across
    passes and the phase fused into the first pass all show in the state."""
    if mixer == "x":
        qubo, groups, initial = random_qubo(7, seed=3), None, None
    else:
        qubo, groups, initial = allocation_like(tasks=2, machines=3, slack=1, seed=3)
    gpu = GpuQaoaEngine(qubo, groups, initial, single_precision=False, low_qubits=1, tile_qubits=3)
    assert len(gpu.passes) >= 3
    assert_pinned(QaoaEngine(qubo, groups, initial), gpu, single=False)


def test_reductions_match_the_cpu_engine():
    qubo, groups, initial = allocation_like(tasks=2, machines=2, slack=2, seed=4)
    qubo, groups, initial, _ = reorder_free_first(qubo, groups, initial)
    cpu = QaoaEngine(qubo, groups, initial)
    gpu = GpuQaoaEngine(qubo, groups, initial, single_precision=False)
    assert gpu.diagonal_bounds() == cpu.diagonal_bounds()
    assert np.allclose(gpu.probabilities(*ANGLES), cpu.probabilities(*ANGLES), atol=1e-12)
    ground = cpu.ground_states()
    assert gpu.ground_states().tolist() == ground.tolist()
    assert gpu.probabilities_of(*ANGLES, ground).sum() == pytest.approx(
        cpu.probabilities_of(*ANGLES, ground).sum(), abs=1e-12
    )
    some = np.array([0, 5, 17, 63])
    assert np.allclose(
        gpu.probabilities_of(*ANGLES, some), cpu.probabilities_of(*ANGLES, some), atol=1e-12
    )


def test_samples_follow_the_state_and_the_seed():
    """Two-stage sampling draws the multinomial law: every count lands on a state of nonzero
    probability, counts add up to the shots, the same seed gives the same counts, and the
    frequencies approach the probabilities."""
    qubo = random_qubo(5, seed=5)
    gpu = GpuQaoaEngine(qubo, single_precision=False, low_qubits=1, tile_qubits=3)
    assert gpu.sample(*ANGLES, 0, np.random.default_rng(7)) == {}
    shots = 20_000
    counts = gpu.sample(*ANGLES, shots, np.random.default_rng(7))
    assert counts == gpu.sample(*ANGLES, shots, np.random.default_rng(7))
    assert sum(counts.values()) == shots
    probabilities = QaoaEngine(qubo).probabilities(*ANGLES)
    frequencies = np.zeros_like(probabilities)
    frequencies[list(counts)] = list(counts.values())
    assert np.all(probabilities[frequencies > 0] > 0)
    # Six standard deviations of a binomial frequency: a correct sampler fails ~1e-9 of runs.
    bound = 6 * np.sqrt(probabilities * (1 - probabilities) / shots) + 1e-12
    assert np.all(np.abs(frequencies / shots - probabilities) <= bound)


@settings(max_examples=40, deadline=None)
@given(
    num_qubits=st.integers(1, 30),
    data=st.data(),
    low_qubits=st.integers(1, 3),
    tile_qubits=st.integers(5, 11),
)
def test_passes_hold_every_gate_once_in_order(num_qubits, data, low_qubits, tile_qubits):
    """Any gate list is planned into passes whose tiles fit and hold each gate's qubits, with
    the gates in their order (the layer's meaning)."""
    qubit = st.integers(0, num_qubits - 1)
    rx = st.tuples(st.just(RX), qubit, st.just(-1))
    xy = st.tuples(st.just(XY), qubit, qubit).filter(lambda g: g[1] != g[2])
    gates = data.draw(st.lists(rx | xy if num_qubits > 1 else rx, max_size=40))
    passes = plan_passes(num_qubits, gates, low_qubits, tile_qubits)
    replayed = []
    for planned in passes:
        assert planned.low + len(planned.qubits) <= min(tile_qubits, num_qubits)
        assert all(q >= planned.low for q in planned.qubits)
        tile = list(range(planned.low)) + list(planned.qubits)
        for kind, a, b in planned.gates:
            if kind == RX2:
                assert a != b
                replayed += [(RX, tile[a], -1), (RX, tile[b], -1)]
            else:
                replayed.append((kind, tile[a], tile[b] if b >= 0 else -1))
    assert replayed == gates
    assert passes


def test_x_mixer_layers_take_few_even_passes():
    """The figure the GPU's speed rests on: 26 to 32 qubits of RX in 4 passes of tiles of at
    most 11 qubits (the first carrying the phase), spread evenly: no pass of tiny tiles."""
    for n in (26, 28, 30, 32):
        passes = plan_passes(n, [(RX, q, -1) for q in range(n)])
        sizes = [len(p.qubits) for p in passes]
        assert len(passes) == 4
        assert max(sizes) - min(sizes) <= 2


@requires_gpu
@pytest.mark.parametrize("single", [False, True])
def test_twenty_qubits_on_the_device_match_the_cpu_engine(single):
    qubo, groups, initial = allocation_like(tasks=4, machines=4, slack=4, seed=6)
    qubo, groups, initial, _ = reorder_free_first(qubo, groups, initial)
    assert_pinned(
        QaoaEngine(qubo, groups, initial),
        GpuQaoaEngine(qubo, groups, initial, single_precision=single),
        single,
    )
    qubo = random_qubo(20, seed=7)
    assert_pinned(QaoaEngine(qubo), GpuQaoaEngine(qubo, single_precision=single), single)
