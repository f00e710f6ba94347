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
  seed gives the same samples; ``updates`` shortens each of a read's simple
  tabu searches (dwave-samplers' default, at least 500,000 variable updates,
  costs about 3 ms a read at 16 variables: far more than a 16-qubit window
  of the hybrid needs, whose QAOA step costs about 30 ms for 256 samples);
- ``random``: uniformly random bit strings (chance, at the same number of
  samples).

Each read is one sample, so ``reads`` plays the part of QAOA's shots.
"""

from __future__ import annotations

import dimod
import numpy as np
from dwave.samplers import SimulatedAnnealingSampler, TabuSampler

from qsched.solvers.engine import Qubo, basis_states

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
    updates: int | None = None,
) -> dict[int, int]:
    """``reads`` samples of ``qubo`` from the peer ``method`` (one of `PEERS`), as basis
    states (integers, qubit i = bit i) and their counts. ``updates``: variable updates per
    simple tabu search (at least the number of variables; None: dwave-samplers' defaults)."""
    n = qubo.num_qubits
    seed32 = seed % (1 << 31)  # the annealer takes seeds below 2^31 (its check, not 2^32)
    if method == "random":
        bits = np.random.default_rng(seed).integers(0, 2, size=(reads, n), dtype=np.int64)
    elif method in ("sa", "tabu"):
        bqm = to_bqm(qubo)
        if method == "sa":
            found = SimulatedAnnealingSampler().sample(
                bqm, num_reads=reads, num_sweeps=sweeps, seed=seed32
            )
        else:
            length = {} if updates is None else _search_length(updates)
            found = TabuSampler().sample(
                bqm, num_reads=reads, num_restarts=restarts, timeout=None, seed=seed32, **length
            )
        columns = [found.variables.index(v) for v in range(n)]
        bits = found.record.sample[:, columns].astype(np.int64)
        bits = np.repeat(bits, found.record.num_occurrences, axis=0)
    else:
        raise ValueError(f"unknown QUBO peer {method!r}; known: {', '.join(PEERS)}")
    return basis_states(bits)


def _search_length(updates: int) -> dict[str, int]:
    """TabuSampler's arguments for simple tabu searches of ``max(updates, n)`` variable updates
    (each search's length is ``max(n * coefficient, lower_bound_z)``)."""
    return {"coefficient_z_first": 1, "coefficient_z_restart": 1, "lower_bound_z": updates}
