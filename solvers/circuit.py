"""The QAOA ansatz of `engine.QaoaEngine` as a parameterized qiskit circuit, for real backends.

Same conventions as the engine (see its module docstring): the cost layer is
``exp(-i gamma C(z))`` written in Ising form (`depth_one.to_ising`: C = offset +
sum h_i Z_i + sum J_ij Z_i Z_j) as RZ(2 gamma h_i) on every qubit and
RZZ(2 gamma J_ij) on every coupling, with the global phase the engine
leaves out (the offset, less the QUBO's constant) put back, so the states
agree amplitude for amplitude. RZZ rather than CP: it is native on current
IBM devices, and qiskit's basis translator stalls on parameterized CP
gates for heavy-hex targets of more than a few qubits. The X mixer is RX(2 beta) on
every qubit from |+>^n; the XY mixer is XXPlusYY(2 beta) on the engine's
ring edges from a one-hot basis state,
then RX(2 beta) on the qubits in no group (which start in |+>).
The circuit keeps `Parameter`s, so a backend transpiles it once and binds
new angles every iteration (`TranspiledQaoa`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterVector
from qiskit.circuit.library import XXPlusYYGate

from qsched.solvers.backends import Device
from qsched.solvers.depth_one import to_ising
from qsched.solvers.engine import Qubo, check_initial, free_qubits, ring_edges
from qsched.solvers.parameters import Angles


def qaoa_circuit(
    qubo: Qubo,
    depth: int,
    groups: list[list[int]] | None = None,
    initial: npt.NDArray[np.int64] | None = None,
) -> QuantumCircuit:
    """p = ``depth`` layers with parameters ``gamma[k]`` and ``beta[k]``."""
    n = qubo.num_qubits
    gammas, betas = ParameterVector("gamma", depth), ParameterVector("beta", depth)
    circuit = QuantumCircuit(n, name=f"qaoa-p{depth}")
    check_initial(n, groups, initial)
    if groups is None:
        circuit.h(range(n))
    else:
        assert initial is not None, "check_initial: the XY mixer has a start"
        for qubit in np.flatnonzero(initial):
            circuit.x(int(qubit))
        free = [int(q) for q in free_qubits(n, groups)]
        if free:
            circuit.h(free)
    edges = ring_edges(groups) if groups is not None else None
    h, coupling, offset = to_ising(qubo)
    pair_i, pair_j = np.nonzero(np.triu(coupling, 1))
    for layer in range(depth):
        circuit.global_phase -= gammas[layer] * (offset - qubo.constant)
        for qubit in np.flatnonzero(h):
            circuit.rz(2 * gammas[layer] * float(h[qubit]), int(qubit))
        for i, j in zip(pair_i, pair_j, strict=True):
            circuit.rzz(2 * gammas[layer] * float(coupling[i, j]), int(i), int(j))
        if edges is None:
            circuit.rx(2 * betas[layer], range(n))
        else:
            for a, b in edges:
                circuit.append(XXPlusYYGate(2 * betas[layer]), [a, b])
            if free:
                circuit.rx(2 * betas[layer], free)
    return circuit


def parameter_values(circuit: QuantumCircuit, gammas: Angles, betas: Angles) -> list[float]:
    """The angles in the order of ``circuit.parameters``, matched by name (``gamma[k]``,
    ``beta[k]``)."""
    angles = {"gamma": list(gammas), "beta": list(betas)}
    return [float(angles[p.vector.name][p.index]) for p in circuit.parameters]


def bind(circuit: QuantumCircuit, gammas: Angles, betas: Angles) -> QuantumCircuit:
    """``circuit`` with its ``gamma[k]`` and ``beta[k]`` parameters set."""
    return circuit.assign_parameters(parameter_values(circuit, gammas, betas))


class TranspiledQaoa:
    """The ansatz, measured and transpiled once for a backend; every run only binds angles.

    Facts after transpilation (`facts`): logical and physical qubits, depth,
    two-qubit gates, shots.
    """

    def __init__(
        self,
        qubo: Qubo,
        depth: int,
        device: Device,
        shots: int,
        groups: list[list[int]] | None = None,
        initial: npt.NDArray[np.int64] | None = None,
    ):
        circuit = qaoa_circuit(qubo, depth, groups, initial)
        circuit.measure_all()
        self.num_qubits = qubo.num_qubits
        self.shots = shots
        self.circuit = device.pass_manager().run(circuit)
        self._sampler = device.sampler(shots)

    def sample(self, gammas: Angles, betas: Angles) -> dict[int, int]:
        """Measured basis states (integers, qubit i = bit i) and their counts."""
        pub = (self.circuit, parameter_values(self.circuit, gammas, betas))
        counts: dict[int, int] = self._sampler.run([pub]).result()[0].data.meas.get_int_counts()
        return counts

    def facts(self) -> dict[str, int]:
        two_qubit = sum(
            1 for instruction in self.circuit.data if instruction.operation.num_qubits == 2
        )
        return {
            "qubits": self.num_qubits,
            "physical_qubits": self.circuit.num_qubits,
            "circuit_depth": self.circuit.depth(),
            "two_qubit_gates": two_qubit,
            "shots": self.shots,
        }
