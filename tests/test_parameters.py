"""Angle strategies: the ramp, INTERP, and the optimizer loop on the engine."""

import numpy as np
import pytest
from builders import random_qubo

from qsched.solvers.engine import QaoaEngine, cost_diagonal
from qsched.solvers.parameters import interp, linear_ramp, optimize


def test_linear_ramp_rises_in_gamma_and_falls_in_beta():
    gammas, betas = linear_ramp(4, step=1.0)
    assert gammas.tolist() == [0.125, 0.375, 0.625, 0.875]
    assert betas.tolist() == [0.875, 0.625, 0.375, 0.125]


def test_interp_follows_zhou_et_al():
    assert interp(np.array([1.0])).tolist() == [1.0, 1.0]
    # p = 2 -> 3: [a, (a + b) / 2, b]
    assert interp(np.array([1.0, 3.0])).tolist() == [1.0, 2.0, 3.0]
    assert interp(np.array([0.3, 0.6, 0.9])) == pytest.approx([0.3, 0.5, 0.7, 0.9])


def test_optimizer_never_ends_above_its_start_and_is_deterministic():
    """What holds wherever COBYLA goes: depth 1 ends no higher than its linear-ramp start,
    every value is a real expectation (so at least the lowest cost), and reruns agree."""
    qubo = random_qubo(8, seed=4, integer=True)
    engine = QaoaEngine(qubo)
    shallow = optimize(engine.expectation, 1)
    deep = optimize(engine.expectation, 3)
    assert shallow.value <= engine.expectation(*linear_ramp(1))
    for found in (shallow, deep):
        assert found.value == pytest.approx(engine.expectation(found.gammas, found.betas))
        assert found.value >= cost_diagonal(qubo).min()
    assert deep.gammas.size == deep.betas.size == 3
    again = optimize(engine.expectation, 3)
    assert np.array_equal(again.gammas, deep.gammas) and again.evaluations == deep.evaluations
