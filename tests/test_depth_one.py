"""The p = 1 closed form against the statevector engine."""

import numpy as np
import pytest
from builders import random_qubo

from qsched.solvers.depth_one import depth_one_expectation, to_ising
from qsched.solvers.engine import QaoaEngine, Qubo, cost_diagonal


def test_ising_form_gives_the_same_cost_for_every_state():
    qubo = random_qubo(6, seed=2)
    h, coupling, offset = to_ising(qubo)
    for z, cost in enumerate(cost_diagonal(qubo)):
        spins = 1 - 2 * ((z >> np.arange(6)) & 1)
        assert offset + h @ spins + spins @ np.triu(coupling, 1) @ spins == pytest.approx(
            cost, abs=1e-12
        )


@pytest.mark.parametrize("seed", range(6))
def test_closed_form_equals_the_engine(seed):
    rng = np.random.default_rng(seed)
    qubo = random_qubo(int(rng.integers(2, 10)), seed, density=float(rng.uniform(0.2, 1.0)))
    engine = QaoaEngine(qubo)
    for gamma, beta in rng.uniform(-np.pi, np.pi, size=(4, 2)):
        assert depth_one_expectation(qubo, gamma, beta) == pytest.approx(
            engine.expectation([gamma], [beta]), abs=1e-9
        )


def test_no_couplings_and_zero_angles():
    qubo = Qubo(np.array([1.0, -2.0, 0.5]), np.zeros((3, 3)), 1.0)
    engine = QaoaEngine(qubo)
    assert depth_one_expectation(qubo, 0.7, 0.3) == pytest.approx(
        engine.expectation([0.7], [0.3]), abs=1e-12
    )
    # At zero angles the state is |+>^n: every bit is 1 with probability 1/2.
    assert depth_one_expectation(qubo, 0.0, 0.0) == pytest.approx(1.0 + (1.0 - 2.0 + 0.5) / 2)
