"""QAOA behind the sampler seam (`qsched.solvers.sampling`): on the engine, its CUDA kernels,
or a qiskit backend.

A QAOA sampler is built with where it runs and where its angles come from (an
`AngleSource`: optimized on each QUBO's engine for the ``qaoa`` solver, shared
across windows by the hybrid's `window.AngleCache`, given by a benchmark), and
samples any `QuboModel`: with one-hot groups, the XY mixer from the model's start
state (every sample one-hot); without, the X mixer from |+>.

- `EngineQaoaSampler`: the built-in statevector engine samples its own final
  state; with ``gpu``, the same engine's CUDA kernels (`gpu_engine`).
- `CircuitQaoaSampler`: the angles are found on the CPU engine, then the same
  ansatz runs as a circuit transpiled once for a qiskit backend
  (`circuit.TranspiledQaoa`), re-bound for ``iterations`` COBYLA steps on the
  device's sampled mean cost, and sampled there. The device is seeded when it is
  made (`backends.device`), so the call's seed is not used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from qsched.solvers.backends import Device
from qsched.solvers.engine import LayerAngles, QaoaEngine, Qubo, basis_bits, reorder_free_first
from qsched.solvers.engines import engine_type
from qsched.solvers.parameters import Optimized, optimize
from qsched.solvers.sampling import QuboModel, Samples, Seed
from qsched.solvers.stopping import Stop

if TYPE_CHECKING:
    # qiskit (the circuit path) takes most of a second to import; the engine samplers, the
    # hybrid's windows among them, never need it.
    from qsched.solvers.circuit import TranspiledQaoa
    from qsched.solvers.gpu_engine import GpuQaoaEngine


#: States with less probability than this are left out of `EngineQaoa.cvar`'s sort.
SUPPORT_FLOOR = 1e-14


class EngineQaoa:
    """QAOA on the built-in engine for one QUBO, with samples in the QUBO's own qubit order
    (with the XY mixer the engine numbers the slack qubits first, `reorder_free_first`).

    ``gpu``: the same engine's CUDA kernels (`gpu_engine.GpuQaoaEngine`, complex64 state)
    instead of the CPU's; imported only then.
    """

    engine: QaoaEngine | GpuQaoaEngine

    def __init__(
        self,
        qubo: Qubo,
        groups: list[list[int]] | None = None,
        initial: np.ndarray | None = None,
        gpu: bool = False,
    ):
        engine_class = engine_type(gpu)
        self._diagonal: np.ndarray | None = None
        if groups is None or initial is None:
            self.engine, self.order = engine_class(qubo), np.arange(qubo.num_qubits)
        else:
            reordered, engine_groups, engine_initial, self.order = reorder_free_first(
                qubo, groups, initial
            )
            self.engine = engine_class(reordered, engine_groups, engine_initial)

    def expectation(self, gammas: LayerAngles, betas: LayerAngles) -> float:
        return float(self.engine.expectation(gammas, betas))

    def cvar(self, gammas: LayerAngles, betas: LayerAngles, alpha: float) -> float:
        """CVaR_alpha of C in the QAOA state, exactly: the mean of C over the lowest-C
        ``alpha`` of the probability mass (Barkoutsos et al., Quantum 4, 256 (2020)); alpha = 1
        is <C>. Only the states holding mass are sorted (with the XY mixer, the one-hot
        subspace: a small share of the 2^n)."""
        if alpha >= 1.0:
            return self.expectation(gammas, betas)
        probabilities = self.engine.probabilities(gammas, betas)
        support = np.flatnonzero(probabilities > SUPPORT_FLOOR)
        energies = self._host_diagonal()[support]
        order = np.argsort(energies, kind="stable")
        mass = probabilities[support][order]
        target = alpha * float(mass.sum())
        before = np.cumsum(mass) - mass
        taken = np.clip(target - before, 0.0, mass)
        return float(taken @ energies[order] / target)

    def _host_diagonal(self) -> np.ndarray:
        """The cost diagonal on the host (the GPU engine's is copied once)."""
        if self._diagonal is None:
            diagonal = self.engine.diagonal
            self._diagonal = (
                diagonal if isinstance(diagonal, np.ndarray) else diagonal.copy_to_host()
            )
        return self._diagonal

    def optimize(self, depth: int, evaluations: int, stop: Stop | None = None) -> Optimized:
        return optimize(self.expectation, depth, evaluations, stop=stop)

    def sample(
        self, gammas: LayerAngles, betas: LayerAngles, shots: int, rng: np.random.Generator
    ) -> dict[int, int]:
        counts = self.engine.sample(gammas, betas, shots, rng)
        return {
            int(basis_bits(z, self.order.size) @ (1 << self.order)): c for z, c in counts.items()
        }


@dataclass(frozen=True)
class Angles:
    """QAOA angles for one QUBO, and JSON-ready facts about how they were found."""

    gammas: np.ndarray
    betas: np.ndarray
    facts: dict[str, Any] = field(default_factory=dict)


class AngleSource(Protocol):
    """Where a QAOA sampler's angles come from: given the engine of the QUBO to sample."""

    def __call__(self, engine: EngineQaoa) -> Angles: ...


@dataclass(frozen=True)
class OptimizedAngles:
    """``depth`` layers optimized on each QUBO's own engine (`parameters.optimize`: depth by
    depth, INTERP starts, COBYLA on the exact expectation, at most ``evaluations`` per depth)."""

    depth: int
    evaluations: int
    #: Ends the optimizer early with the best angles so far (a solve's budget or stop).
    stop: Stop | None = None

    def __call__(self, engine: EngineQaoa) -> Angles:
        found = engine.optimize(self.depth, self.evaluations, self.stop)
        return Angles(
            found.gammas,
            found.betas,
            {
                "expectation": found.value,
                "optimizer_evaluations": found.evaluations,
                "gammas": found.gammas.tolist(),
                "betas": found.betas.tolist(),
            },
        )


@dataclass(frozen=True)
class FixedAngles:
    """The same angles for every QUBO (a schedule found elsewhere, or the linear ramp)."""

    gammas: np.ndarray
    betas: np.ndarray

    def __call__(self, engine: EngineQaoa) -> Angles:
        return Angles(self.gammas, self.betas)


@dataclass(frozen=True)
class EngineQaoaSampler:
    """QAOA on the built-in engine (``gpu``: its CUDA kernels), which samples its own state."""

    angles: AngleSource
    gpu: bool = False

    @property
    def name(self) -> str:
        return "qaoa"

    def sample(self, model: QuboModel, reads: int, seed: Seed) -> Samples:
        engine = EngineQaoa(model.qubo, model.groups, model.initial, gpu=self.gpu)
        angles = self.angles(engine)
        counts = engine.sample(angles.gammas, angles.betas, reads, np.random.default_rng(seed))
        return Samples(counts, angles.facts)


@dataclass(frozen=True)
class CircuitQaoaSampler:
    """QAOA as a transpiled circuit on the qiskit backend ``device``, its angles from the CPU
    engine refined by ``iterations`` COBYLA steps on the device (module docstring)."""

    device: Device
    angles: AngleSource
    iterations: int = 0

    @property
    def name(self) -> str:
        return "qaoa"

    def sample(self, model: QuboModel, reads: int, seed: Seed) -> Samples:
        from qsched.solvers.circuit import TranspiledQaoa

        angles = self.angles(EngineQaoa(model.qubo, model.groups, model.initial))
        circuit = TranspiledQaoa(
            model.qubo, angles.gammas.size, self.device, reads, model.groups, model.initial
        )
        gammas, betas = refine_on_device(
            circuit, model.qubo, angles.gammas, angles.betas, self.iterations
        )
        return Samples(circuit.sample(gammas, betas), {**angles.facts, **circuit.facts()})


def qaoa_sampler(
    device: Device, angles: AngleSource, iterations: int = 0
) -> EngineQaoaSampler | CircuitQaoaSampler:
    """QAOA where ``device`` runs it: the engine (CPU or GPU) samples itself; any other backend
    runs the circuit, with ``iterations`` COBYLA steps on the device."""
    if device.simulates_qaoa_itself:
        return EngineQaoaSampler(angles, gpu=device.kind == "gpu")
    return CircuitQaoaSampler(device, angles, iterations)


def refine_on_device(
    circuit: TranspiledQaoa, qubo: Qubo, gammas: np.ndarray, betas: np.ndarray, iterations: int
) -> tuple[np.ndarray, np.ndarray]:
    """A few COBYLA steps on the device's sampled mean cost, from the engine's angles."""
    if iterations <= 0:
        return gammas, betas
    from scipy.optimize import minimize

    depth = len(gammas)

    def sampled_cost(angles: np.ndarray) -> float:
        counts = circuit.sample(angles[:depth], angles[depth:])
        total = sum(qubo.value(basis_bits(z, qubo.num_qubits)) * c for z, c in counts.items())
        return float(total) / circuit.shots

    found = minimize(
        sampled_cost,
        np.concatenate([gammas, betas]),
        method="COBYLA",
        options={"maxiter": iterations, "rhobeg": 0.1},
    )
    return found.x[:depth], found.x[depth:]
