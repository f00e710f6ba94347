"""The QAOA ansatz of `engine.QaoaEngine` as a parameterized qiskit circuit, for real backends.

Same conventions as the engine (see its module docstring): the cost layer is
``exp(-i gamma C(z))`` written exactly as phase gates, P(-gamma q_i) for
every linear term and CP(-gamma Q_ij) for every coupling (the constant is a
global phase); the X mixer is RX(2 beta) on every qubit from |+>^n; the XY
mixer is XXPlusYY(2 beta) on the engine's ring edges from a one-hot basis state.
The circuit keeps `Parameter`s, so a backend transpiles it once and binds
new angles every iteration.
"""

from __future__ import annotations

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterVector
from qiskit.circuit.library import XXPlusYYGate

from qsched.solvers.engine import Qubo, check_initial, ring_edges


def qaoa_circuit(qubo: Qubo, depth: int, groups: list[list[int]] | None = None, initial: np.ndarray | None = None) -> QuantumCircuit:
    """p = ``depth`` layers with parameters ``gamma[k]`` and ``beta[k]``."""
    n = qubo.num_qubits
    gammas, betas = ParameterVector("gamma", depth), ParameterVector("beta", depth)
    circuit = QuantumCircuit(n, name=f"qaoa-p{depth}")
    check_initial(n, groups, initial)
    if groups is None:
        circuit.h(range(n))
    else:
        for qubit in np.flatnonzero(initial):
            circuit.x(int(qubit))
    edges = ring_edges(groups) if groups is not None else None
    pair_i, pair_j, pair_w = qubo.pairs()
    for layer in range(depth):
        for qubit in np.flatnonzero(qubo.linear):
            circuit.p(-gammas[layer] * float(qubo.linear[qubit]), int(qubit))
        for i, j, weight in zip(pair_i, pair_j, pair_w):
            circuit.cp(-gammas[layer] * float(weight), int(i), int(j))
        if edges is None:
            circuit.rx(2 * betas[layer], range(n))
        else:
            for a, b in edges:
                circuit.append(XXPlusYYGate(2 * betas[layer]), [a, b])
    return circuit


def bind(circuit: QuantumCircuit, gammas, betas) -> QuantumCircuit:
    """``circuit`` with its ``gamma[k]`` and ``beta[k]`` parameters set (by name, not position)."""
    angles = {"gamma": list(gammas), "beta": list(betas)}
    return circuit.assign_parameters({p: float(angles[p.vector.name][p.index]) for p in circuit.parameters})
