"""The QAOA engine against qiskit-aer on the same circuits, and against its own definitions."""

import numpy as np
import pytest
from builders import random_qubo
from qiskit import transpile
from qiskit_aer import AerSimulator

from qsched.solvers.circuit import bind, qaoa_circuit
from qsched.solvers.engine import QaoaEngine, Qubo, cost_diagonal, reorder_free_first, ring_edges


def aer_state(circuit, gammas, betas) -> np.ndarray:
    simulator = AerSimulator(method="statevector")
    bound = bind(circuit, gammas, betas)
    bound.save_statevector()
    return np.asarray(simulator.run(transpile(bound, simulator)).result().get_statevector())


def random_angles(depth: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(-np.pi, np.pi, depth), rng.uniform(-np.pi, np.pi, depth)


def test_cost_diagonal_is_the_qubo_value_of_every_basis_state():
    qubo = random_qubo(7, seed=1)
    diagonal = cost_diagonal(qubo)
    for z in range(1 << 7):
        bits = (z >> np.arange(7)) & 1
        assert diagonal[z] == pytest.approx(qubo.value(bits), abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_x_mixer_state_matches_aer(seed, depth):
    qubo = random_qubo(6, seed)
    gammas, betas = random_angles(depth, 100 + seed)
    expected = aer_state(qaoa_circuit(qubo, depth), gammas, betas)
    assert np.max(np.abs(QaoaEngine(qubo).state(gammas, betas) - expected)) < 1e-8


@pytest.mark.parametrize("n", [13, 14, 15])
def test_high_qubit_passes_match_aer(n):
    """Above the 12 cache-blocked qubits: one, two and three high qubits (pairs plus a single)."""
    qubo = random_qubo(n, seed=n, density=0.2, integer=n == 14)
    gammas, betas = random_angles(2, n)
    expected = aer_state(qaoa_circuit(qubo, 2), gammas, betas)
    assert np.max(np.abs(QaoaEngine(qubo).state(gammas, betas) - expected)) < 1e-8


@pytest.mark.parametrize("seed", range(3))
def test_xy_mixer_state_matches_aer_and_keeps_one_hot(seed):
    groups = [[0, 1, 2], [3, 4, 5], [6, 7]]
    initial = np.array([1, 0, 0, 0, 1, 0, 0, 1])
    qubo = random_qubo(8, seed)
    gammas, betas = random_angles(2, 200 + seed)
    state = QaoaEngine(qubo, groups, initial).state(gammas, betas)
    assert (
        np.max(np.abs(state - aer_state(qaoa_circuit(qubo, 2, groups, initial), gammas, betas)))
        < 1e-8
    )
    states = np.flatnonzero(np.abs(state) > 1e-6)
    bits = (states[:, None] >> np.arange(8)) & 1
    assert all(np.all(bits[:, group].sum(axis=1) == 1) for group in groups)


def test_xy_mixer_with_free_slack_qubits_matches_aer():
    """Qubits outside the one-hot groups (slack bits) start in |+> and get the X mixer."""
    groups = [[0, 1, 2], [4, 5, 6]]
    initial = np.array([0, 1, 0, 0, 0, 0, 1, 0, 0])
    qubo = random_qubo(9, seed=11)
    gammas, betas = random_angles(2, 12)
    state = QaoaEngine(qubo, groups, initial).state(gammas, betas)
    assert (
        np.max(np.abs(state - aer_state(qaoa_circuit(qubo, 2, groups, initial), gammas, betas)))
        < 1e-8
    )
    bits = (np.flatnonzero(np.abs(state) > 1e-6)[:, None] >> np.arange(9)) & 1
    assert all(np.all(bits[:, group].sum(axis=1) == 1) for group in groups)
    assert {tuple(row) for row in bits[:, [3, 7, 8]]} == {tuple(b) for b in np.ndindex(2, 2, 2)}


def test_free_qubits_must_start_at_zero():
    with pytest.raises(ValueError, match="no one-hot group"):
        QaoaEngine(random_qubo(4, seed=1), [[0, 1]], np.array([1, 0, 1, 0]))


def test_ring_edges_cover_each_group_as_a_ring():
    assert ring_edges([[7]]) == []
    assert ring_edges([[0, 1]]) == [(0, 1)]
    assert ring_edges([[0, 1, 2]]) == [(0, 1), (1, 2), (2, 0)]
    assert ring_edges([[0, 1, 2, 3]]) == [(0, 1), (2, 3), (1, 2), (3, 0)]
    assert ring_edges([[4, 5, 6, 7, 8], [0, 2]]) == [(4, 5), (6, 7), (5, 6), (7, 8), (8, 4), (0, 2)]


def test_integer_weights_use_the_phase_table_and_match_aer():
    qubo = random_qubo(6, seed=7, integer=True)
    engine = QaoaEngine(qubo)
    assert engine._phase_table is not None
    gammas, betas = [0.3, -1.1], [0.8, 0.25]
    assert (
        np.max(
            np.abs(engine.state(gammas, betas) - aer_state(qaoa_circuit(qubo, 2), gammas, betas))
        )
        < 1e-8
    )


def test_expectation_and_samples_follow_the_state():
    qubo = random_qubo(5, seed=3)
    engine = QaoaEngine(qubo)
    gammas, betas = [0.4, 0.9], [0.7, 0.2]
    probabilities = engine.probabilities(gammas, betas)
    assert engine.expectation(gammas, betas) == pytest.approx(probabilities @ cost_diagonal(qubo))
    counts = engine.sample(gammas, betas, 20000, np.random.default_rng(0))
    assert sum(counts.values()) == 20000
    top = int(np.argmax(probabilities))
    assert counts[top] / 20000 == pytest.approx(probabilities[top], abs=0.02)
    assert engine.sample(gammas, betas, 100, np.random.default_rng(5)) == engine.sample(
        gammas, betas, 100, np.random.default_rng(5)
    )


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="upper-triangular"):
        Qubo(np.zeros(2), np.array([[5.0, 0.0], [3.0, 0.0]]))
    qubo = random_qubo(4, seed=1)
    with pytest.raises(ValueError, match="exactly one 1"):
        QaoaEngine(qubo, [[0, 1], [2, 3]], np.array([1, 1, 0, 0]))
    with pytest.raises(ValueError, match="disjoint"):
        QaoaEngine(qubo, [[0, 1], [1, 2]], np.array([1, 0, 1, 0]))
    with pytest.raises(ValueError, match="X mixer"):
        QaoaEngine(qubo, None, np.array([1, 0, 0, 0]))
    with pytest.raises(ValueError, match="same length"):
        QaoaEngine(qubo).expectation([0.1, 0.2], [0.3])


@pytest.mark.parametrize("mixer", ["x", "xy"])
def test_single_precision_agrees_with_double(mixer):
    groups, initial = (
        ([[0, 1, 2], [3, 4, 5], [6, 7, 8]], np.array([1, 0, 0, 0, 1, 0, 0, 0, 1]))
        if mixer == "xy"
        else (None, None)
    )
    qubo = random_qubo(9, seed=11, integer=True)
    gammas, betas = random_angles(3, 5)
    double = QaoaEngine(qubo, groups, initial)
    single = QaoaEngine(qubo, groups, initial, single_precision=True)
    assert single.state(gammas, betas).dtype == np.complex64
    assert (
        np.max(np.abs(single.probabilities(gammas, betas) - double.probabilities(gammas, betas)))
        < 1e-5
    )
    assert single.expectation(gammas, betas) == pytest.approx(
        double.expectation(gammas, betas), rel=1e-5, abs=1e-5
    )


def test_free_qubits_first_gives_the_same_distribution():
    """Renumbering the slack qubits first (one blocked mixer pass) changes nothing but the
    labels."""
    groups = [[0, 1, 2], [4, 5, 6]]
    initial = np.array([0, 1, 0, 0, 0, 0, 1, 0, 0])
    qubo = random_qubo(9, seed=5)
    gammas, betas = random_angles(2, 6)
    reordered, new_groups, new_initial, order = reorder_free_first(qubo, groups, initial)
    assert list(order[:3]) == [3, 7, 8]
    original = QaoaEngine(qubo, groups, initial).probabilities(gammas, betas)
    renamed = QaoaEngine(reordered, new_groups, new_initial).probabilities(gammas, betas)
    states = np.arange(1 << 9)
    old_index = (((states[:, None] >> np.arange(9)) & 1) << order).sum(axis=1)
    assert np.max(np.abs(renamed - original[old_index])) < 1e-12
