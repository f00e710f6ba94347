"""VQE refinement of the machines' DVFS levels for a fixed assignment.

The Hamiltonian is the Ising form of `levels.LevelSelection`'s QUBO (energy
of every level choice, lateness penalties, the power cap). It is diagonal,
so qiskit-algorithms' `SamplingVQE` minimizes it on the chosen backend's
Sampler with the CVaR objective (the mean of the best `CVAR_ALPHA` of the
shots, Barkoutsos et al. 2020), with COBYLA, over an RY / CZ / RY ansatz
transpiled once for the backend and warm-started near the current levels:
the first RY layer is tilted towards the current bits (each flipped with
probability sin^2(`TILT` / 2)), so the search starts at the incumbent. The
distinct level choices in the final sample are scored by the evaluator, and
the result is never worse than the incumbent. On a device only the program's
qubits are measured (`MeasuredQubits`), so a simulated device holds those
qubits, not all of the device's.

A machine's levels take one qubit each, plus one per distinct makespan
value, so machines are refined in blocks that fit ``max_qubits``, one block
after another, each from the previous block's answer, for up to `SWEEPS`
passes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from qiskit import ClassicalRegister, QuantumCircuit
from qiskit.circuit.library import n_local
from qiskit.primitives import BasePrimitiveJob, BaseSamplerV2
from qiskit.primitives.containers.sampler_pub import SamplerPub, SamplerPubLike
from qiskit_algorithms import SamplingMinimumEigensolverResult, SamplingVQE
from qiskit_algorithms.optimizers import COBYLA

from qsched.model.evaluate import Evaluation
from qsched.model.problem import Problem
from qsched.search.tracker import SolveTracker
from qsched.solvers.backends import Device
from qsched.solvers.levels import LevelSelection
from qsched.solvers.qubo import QuboForm
from qsched.solvers.stopping import Stopped, raise_when

#: Angle of the warm start's first RY layer away from the current bits.
TILT = 0.9
#: CVaR level of the sampled objective (Barkoutsos et al. 2020): the mean of the best 10% of shots.
CVAR_ALPHA = 0.1
#: Distinct sampled level choices the evaluator scores per block.
READOUTS = 16
#: Most passes over the machine blocks (a pass that improves nothing ends the refinement).
SWEEPS = 3


@dataclass
class VqeReport:
    """What the VQE stage did, for the solver's facts."""

    blocks: int = 0
    qubits: int = 0
    iterations: int = 0
    skipped_machines: int = 0
    improved: int = 0


def ansatz(num_qubits: int) -> QuantumCircuit:
    """RY layer, CZ chain, RY layer: parameters θ[0..n-1] are the first layer."""
    return n_local(num_qubits, "ry", "cz", entanglement="linear", reps=1)


def warm_start(bits: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """First-layer angles near the basis state ``bits``, second layer zero."""
    values = np.asarray(bits, dtype=float)
    return np.concatenate([values * (np.pi - TILT) + (1 - values) * TILT, np.zeros(values.size)])


def machine_blocks(
    problem: Problem,
    assignment: npt.NDArray[np.int64],
    levels: npt.NDArray[np.int64],
    max_qubits: int,
) -> tuple[list[list[int]], int]:
    """Consecutive machines grouped while their level program fits ``max_qubits``;
    also how many machines do not fit even alone (left at their levels)."""
    blocks: list[list[int]] = []
    block: list[int] = []
    skipped = 0
    for machine in LevelSelection(problem, assignment, levels).chosen:
        trial = [*block, int(machine)]
        if _qubits(problem, assignment, levels, trial) <= max_qubits:
            block = trial
            continue
        if block:
            blocks.append(block)
        if _qubits(problem, assignment, levels, [int(machine)]) <= max_qubits:
            block = [int(machine)]
        else:
            block, skipped = [], skipped + 1
    if block:
        blocks.append(block)
    return blocks, skipped


def _qubits(
    problem: Problem,
    assignment: npt.NDArray[np.int64],
    levels: npt.NDArray[np.int64],
    machines: list[int],
) -> int:
    return LevelSelection(problem, assignment, levels, machines).to_qubo().num_qubits


def refine_levels(
    tracker: SolveTracker,
    candidate: Evaluation,
    device: Device,
    report: VqeReport,
    *,
    max_qubits: int = 14,
    iterations: int = 60,
    shots: int = 512,
) -> Evaluation:
    """The candidate's assignment with VQE-chosen levels (never worse than the candidate)."""
    best = candidate
    for _ in range(SWEEPS):
        before = best.key
        best = _sweep(tracker, best, device, report, max_qubits, iterations, shots)
        if best.key == before or tracker.exhausted:
            break
    return best


def _sweep(
    tracker: SolveTracker,
    best: Evaluation,
    device: Device,
    report: VqeReport,
    max_qubits: int,
    iterations: int,
    shots: int,
) -> Evaluation:
    """One pass of VQE over the machine blocks, each block from the previous block's answer."""
    blocks, skipped = machine_blocks(tracker.problem, best.assignment, best.levels, max_qubits)
    report.skipped_machines = max(report.skipped_machines, skipped)
    for block in blocks:
        if tracker.exhausted:
            break
        selection = LevelSelection(tracker.problem, best.assignment, best.levels, block)
        form = selection.to_qubo()
        operator, _ = form.to_ising()
        circuit = device.pass_manager().run(ansatz(form.num_qubits))
        positions = (
            circuit.layout.final_index_layout() if circuit.layout else list(range(form.num_qubits))
        )
        start_bits = _qubo_bits(form, selection.solution(best.levels))
        vqe = SamplingVQE(
            MeasuredQubits(device.sampler(shots), positions),
            circuit,
            COBYLA(maxiter=iterations, rhobeg=0.3),
            initial_point=warm_start(start_bits),
            aggregation=CVAR_ALPHA,
            callback=raise_when(lambda: tracker.exhausted),
        )
        try:
            found = vqe.compute_minimum_eigenvalue(operator.apply_layout(circuit.layout))
        except Stopped:
            break  # the budget ended inside the block: keep the levels found so far
        report.blocks += 1
        report.qubits = max(report.qubits, form.num_qubits)
        report.iterations += int(found.cost_function_evals or 0)
        for levels in _readout(found, form, selection, positions):
            evaluation = tracker.evaluate(best.assignment, levels, stage="vqe")
            if evaluation.key < best.key:
                best = evaluation
                report.improved += 1
    return best


class MeasuredQubits(BaseSamplerV2):  # type: ignore[misc]  # qiskit ships no type information
    """A sampler that measures only the program's qubits (``positions``) of each circuit.

    `SamplingVQE` measures every qubit of its ansatz, and an ansatz transpiled
    for a device spans all the device's qubits (133 on Torino): a simulator of
    the device (fake devices, IBM Runtime's local testing mode) then has to
    hold them all, and runs out of memory. Each circuit's final measurements
    are replaced here by measurements of the ``positions`` qubits alone, into
    the clbits of the same index in a register named like `measure_all`'s, so
    a measured integer still has physical qubit p at bit p; the other bits read
    0, where the laid-out operator is the identity.
    """

    def __init__(self, sampler: BaseSamplerV2, positions: list[int]):
        self._sampler = sampler
        self._positions = [int(p) for p in positions]

    def run(self, pubs: Iterable[SamplerPubLike], *, shots: int | None = None) -> BasePrimitiveJob:
        return self._sampler.run([self._measured(pub, shots) for pub in pubs], shots=shots)

    def _measured(self, pub_like: SamplerPubLike, shots: int | None) -> SamplerPub:
        pub = SamplerPub.coerce(pub_like, shots)
        circuit = pub.circuit.remove_final_measurements(inplace=False)
        clbits = ClassicalRegister(circuit.num_qubits, "meas")
        circuit.add_register(clbits)
        for position in self._positions:
            circuit.measure(position, clbits[position])
        return SamplerPub(circuit, pub.parameter_values, pub.shots)


def _qubo_bits(form: QuboForm, program_values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """QUBO bits for a point of the program: its variables, slack bits at 0 (they only shift the
    start)."""
    bits = np.zeros(form.num_qubits)
    bits[: program_values.size] = program_values
    return bits


def _readout(
    found: SamplingMinimumEigensolverResult,
    form: QuboForm,
    selection: LevelSelection,
    positions: list[int],
) -> list[npt.NDArray[np.int64]]:
    """Distinct level choices in the final sample, best QUBO value first, at most `READOUTS`.

    A measured integer covers the physical qubits of the transpiled circuit;
    ``positions[i]`` is where program qubit i landed. Decoding reads only the
    level bits: a state whose makespan or slack bits disagree with its levels
    still names a level choice, which the evaluator scores.
    """
    best: dict[tuple[int, ...], float] = {}
    for z in sorted(int(z) for z in found.eigenstate):
        bits = np.array([(z >> position) & 1 for position in positions])
        levels = tuple(selection.interpret(form.original(bits)).tolist())
        best[levels] = min(best.get(levels, np.inf), form.arrays.value(bits))
    ranked = sorted(best, key=lambda levels: (best[levels], levels))
    return [np.array(levels) for levels in ranked[:READOUTS]]
