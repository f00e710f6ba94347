"""QAOA's classical peers on the same QUBO: D-Wave's simulated annealing and tabu search.

Papers that judge a quantum optimizer run it beside simulated annealing and
tabu search on the very QUBO it samples, and count the same things
(approximation ratio, probability of the ground state, time to solution).
These samplers give those peers the engine's `Qubo` behind the sampler seam
(`qsched.solvers.sampling`), so every caller can swap one for QAOA: measured
basis states as integers (qubit i is bit i, as `engine.QaoaEngine.sample`)
with their counts. Both ignore a model's one-hot groups: they search the
penalized QUBO as it is.

- `AnnealingSampler` (``sa``): `dwave.samplers.SimulatedAnnealingSampler`,
  ``sweeps`` Metropolis sweeps per read on dwave-samplers' default geometric
  temperature schedule;
- `TabuSearchSampler` (``tabu``): `dwave.samplers.TabuSampler` (Palubeckis'
  multistart tabu search), bounded by ``restarts`` per read and never by a
  clock, so that the same seed gives the same samples; ``updates`` shortens
  each of a read's simple tabu searches (dwave-samplers' default, at least
  500,000 variable updates, is sized for problems far larger than a window of
  the hybrid).

Each read is one sample, so ``reads`` plays the part of QAOA's shots.
"""

from __future__ import annotations

from dataclasses import dataclass

import dimod
import numpy as np
from dwave.samplers import SimulatedAnnealingSampler, TabuSampler

from qsched.solvers.engine import Qubo, basis_states
from qsched.solvers.sampling import QuboModel, Samples, Seed, integer_seed

#: The annealer takes seeds below 2^31 (its check, not 2^32).
SEED_LIMIT = 1 << 31
#: TabuSampler's "no clock": it reads a negative timeout (its own stand-in for None) as none.
NO_TIMEOUT = -1


def to_bqm(qubo: Qubo) -> dimod.BinaryQuadraticModel:
    """The QUBO as dimod's binary model over variables 0..n-1 (same energies, constant
    included)."""
    return dimod.BinaryQuadraticModel(
        np.asarray(qubo.linear, dtype=np.float64),
        np.asarray(qubo.quadratic, dtype=np.float64),
        float(qubo.constant),
        dimod.BINARY,
    )


@dataclass(frozen=True)
class AnnealingSampler:
    """Simulated annealing, ``sweeps`` Metropolis sweeps per read."""

    sweeps: int

    @property
    def name(self) -> str:
        return "sa"

    def sample(self, model: QuboModel, reads: int, seed: Seed) -> Samples:
        annealer = SimulatedAnnealingSampler()  # type: ignore[no-untyped-call]  # untyped __init__
        found = annealer.sample(
            to_bqm(model.qubo),
            num_reads=reads,
            num_sweeps=self.sweeps,
            seed=integer_seed(seed) % SEED_LIMIT,
        )
        return Samples(_states(found, model.num_qubits))


@dataclass(frozen=True)
class TabuSearchSampler:
    """Multistart tabu search, ``restarts`` restarts per read; ``updates``: variable updates per
    simple tabu search (at least the number of variables; None: dwave-samplers' defaults)."""

    restarts: int
    updates: int | None = None

    @property
    def name(self) -> str:
        return "tabu"

    def sample(self, model: QuboModel, reads: int, seed: Seed) -> Samples:
        # A search of max(n * coefficient, lower_bound_z) updates; None: dwave-samplers' own.
        coefficient = None if self.updates is None else 1
        searcher = TabuSampler()  # type: ignore[no-untyped-call]  # untyped __init__
        found = searcher.sample(
            to_bqm(model.qubo),
            num_reads=reads,
            num_restarts=self.restarts,
            timeout=NO_TIMEOUT,
            seed=integer_seed(seed) % SEED_LIMIT,
            coefficient_z_first=coefficient,
            coefficient_z_restart=coefficient,
            lower_bound_z=self.updates,
        )
        return Samples(_states(found, model.num_qubits))


def _states(found: dimod.SampleSet, num_qubits: int) -> dict[int, int]:
    """A sample set's reads as basis states over variables 0..n-1, with their counts."""
    columns = [found.variables.index(v) for v in range(num_qubits)]
    bits = found.record.sample[:, columns].astype(np.int64)
    return basis_states(np.repeat(bits, found.record.num_occurrences, axis=0))
