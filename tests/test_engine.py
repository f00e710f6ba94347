"""The QAOA engine against qiskit-aer on the same circuits, and against its own definitions."""

import numpy as np
import pytest
from qiskit import transpile
from qiskit_aer import AerSimulator

from qsched.solvers.circuit import qaoa_circuit
from qsched.solvers.engine import QaoaEngine, Qubo, cost_diagonal


def random_qubo(n: int, seed: int) -> Qubo:
    rng = np.random.default_rng(seed)
    quadratic = np.triu(rng.normal(size=(n, n)) * (rng.random((n, n)) < 0.5), 1)
    return Qubo(rng.normal(size=n), quadratic, float(rng.normal()))


def aer_probabilities(circuit, gammas, betas) -> np.ndarray:
    simulator = AerSimulator(method="statevector")
    bound = circuit.assign_parameters({**dict(zip(circuit.parameters[: len(betas)], betas)), **dict(zip(circuit.parameters[len(betas) :], gammas))})
    bound.save_statevector()
    state = np.asarray(simulator.run(transpile(bound, simulator)).result().get_statevector())
    return np.abs(state) ** 2


def test_cost_diagonal_is_the_qubo_value_of_every_basis_state():
    qubo = random_qubo(7, seed=1)
    diagonal = cost_diagonal(qubo)
    for z in range(1 << 7):
        bits = (z >> np.arange(7)) & 1
        assert diagonal[z] == pytest.approx(qubo.value(bits), abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_x_mixer_probabilities_match_aer(seed, depth):
    qubo = random_qubo(6, seed)
    rng = np.random.default_rng(100 + seed)
    gammas, betas = rng.uniform(-np.pi, np.pi, depth), rng.uniform(-np.pi, np.pi, depth)
    engine = QaoaEngine(qubo)
    expected = aer_probabilities(qaoa_circuit(qubo, depth), gammas, betas)
    assert np.max(np.abs(engine.probabilities(gammas, betas) - expected)) < 1e-8


@pytest.mark.parametrize("seed", range(3))
def test_xy_mixer_probabilities_match_aer_and_keep_one_hot(seed):
    groups = [[0, 1, 2], [3, 4, 5], [6, 7]]
    initial = np.array([1, 0, 0, 0, 1, 0, 0, 1])
    qubo = random_qubo(8, seed)
    rng = np.random.default_rng(200 + seed)
    gammas, betas = rng.uniform(-np.pi, np.pi, 2), rng.uniform(-np.pi, np.pi, 2)
    engine = QaoaEngine(qubo, groups, initial)
    probabilities = engine.probabilities(gammas, betas)
    expected = aer_probabilities(qaoa_circuit(qubo, 2, groups, initial), gammas, betas)
    assert np.max(np.abs(probabilities - expected)) < 1e-8
    states = np.flatnonzero(probabilities > 1e-12)
    bits = (states[:, None] >> np.arange(8)) & 1
    assert all(np.all(bits[:, group].sum(axis=1) == 1) for group in groups)


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
    assert engine.sample(gammas, betas, 100, np.random.default_rng(5)) == engine.sample(gammas, betas, 100, np.random.default_rng(5))


def test_integer_weights_use_the_phase_table_and_match_aer():
    rng = np.random.default_rng(7)
    qubo = Qubo(np.round(rng.normal(size=6) * 3), np.triu(np.round(rng.normal(size=(6, 6)) * 3), 1), 2.0)
    engine = QaoaEngine(qubo)
    assert engine._phase_table is not None
    gammas, betas = [0.3, -1.1], [0.8, 0.25]
    expected = aer_probabilities(qaoa_circuit(qubo, 2), gammas, betas)
    assert np.max(np.abs(engine.probabilities(gammas, betas) - expected)) < 1e-8
