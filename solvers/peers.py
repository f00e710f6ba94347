"""QAOA's classical peers on the same QUBO: D-Wave's simulated annealing and tabu search.

Papers that judge a quantum optimizer run it beside simulated annealing and
tabu search on the very QUBO it samples, and count the same things
(approximation ratio, probability of the ground state, time to solution).
`sample_qubo` gives those peers the engine's `Qubo` and answers in the
engine's currency, so every caller can swap one for the other: measured
basis states as integers (qubit i is bit i, as `engine.QaoaEngine.sample`)
with their counts.

- ``sa``: `dwave.samplers.SimulatedAnnealingSampler`, ``sweeps`` Metropolis
  sweeps per read on dwave-samplers' default geometric temperature schedule;
- ``tabu``: `dwave.samplers.TabuSampler` (Palubeckis' multistart tabu search),
  bounded by ``restarts`` per read and never by a clock, so that the same
  seed gives the same samples;
- ``random``: uniformly random bit strings (chance, at the same number of
  samples).

Each read is one sample, so ``reads`` plays the part of QAOA's shots.
"""

from __future__ import annotations

import dimod
import numpy as np
from dwave.samplers import SimulatedAnnealingSampler, TabuSampler

from qsched.solvers.engine import Qubo

PEERS = ("sa", "tabu", "random")
#: Metropolis sweeps per simulated-annealing read (dwave-samplers' own default).
SWEEPS = 1000
#: Tabu restarts per read: each restart is a simple tabu search of
#: ``max(10_000 n, 500_000) / 4`` variable updates (dwave-samplers' defaults).
RESTARTS = 1


def to_bqm(qubo: Qubo) -> dimod.BinaryQuadraticModel:
    """The QUBO as dimod's binary model over variables 0..n-1 (same energies, constant
    included)."""
    return dimod.BinaryQuadraticModel(
        np.asarray(qubo.linear, dtype=np.float64),
        np.asarray(qubo.quadratic, dtype=np.float64),
        float(qubo.constant),
        dimod.BINARY,
    )


def sample_qubo(
    qubo: Qubo,
    method: str,
    reads: int,
    seed: int,
    *,
    sweeps: int = SWEEPS,
    restarts: int = RESTARTS,
) -> dict[int, int]:
    """``reads`` samples of ``qubo`` from the peer ``method`` (one of `PEERS`), as basis
    states (integers, qubit i = bit i) and their counts."""
    n = qubo.num_qubits
    seed32 = seed % (1 << 32)
    if method == "random":
        bits = np.random.default_rng(seed).integers(0, 2, size=(reads, n), dtype=np.int64)
    elif method in ("sa", "tabu"):
        bqm = to_bqm(qubo)
        if method == "sa":
            found = SimulatedAnnealingSampler().sample(
                bqm, num_reads=reads, num_sweeps=sweeps, seed=seed32
            )
        else:
            found = TabuSampler().sample(
                bqm, num_reads=reads, num_restarts=restarts, timeout=None, seed=seed32
            )
        columns = [found.variables.index(v) for v in range(n)]
        bits = found.record.sample[:, columns].astype(np.int64)
        bits = np.repeat(bits, found.record.num_occurrences, axis=0)
    else:
        raise ValueError(f"unknown QUBO peer {method!r}; known: {', '.join(PEERS)}")
    states, counts = np.unique(bits @ (1 << np.arange(n, dtype=np.int64)), return_counts=True)
    return {int(z): int(c) for z, c in zip(states, counts, strict=True)}
