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


def test_optimizer_beats_the_ramp_and_improves_with_depth():
    qubo = random_qubo(8, seed=4, integer=True)
    engine = QaoaEngine(qubo)
    ramp = engine.expectation(*linear_ramp(2))
    shallow = optimize(engine.expectation, 1)
    deep = optimize(engine.expectation, 3)
    assert deep.value < ramp
    assert deep.value <= shallow.value + 1e-9
    assert deep.value >= cost_diagonal(qubo).min()
    assert deep.value == pytest.approx(engine.expectation(deep.gammas, deep.betas))
    again = optimize(engine.expectation, 3)
    assert np.array_equal(again.gammas, deep.gammas) and again.evaluations == deep.evaluations
