"""The QUBO sampler seam: one interface for every way qsched samples a QUBO.

As with dimod's `Sampler`, a sampler is an object built once with its own
settings (sweeps, angles, a device) and then asked for samples of any QUBO::

    sampler.sample(model, reads, seed) -> Samples

- ``model`` (`QuboModel`): the QUBO, and the structure that samplers able to
  use it use: the one-hot groups of qubits (the XY mixer keeps them one-hot,
  random and exhaustive sampling stay inside them) and a basis state with one 1
  per group (the XY mixer's start). A model without groups is a bare QUBO.
- ``reads``: how many samples (QAOA's shots, an annealer's reads).
- ``seed``: an integer or a `numpy.random.Generator`, as `numpy.random.default_rng`
  takes it. Samplers that draw from numpy draw from ``default_rng(seed)``, so a
  caller's generator carries on where the sampler leaves it; the seeded C++
  samplers take an integer as it is, or draw one from the generator (`integer_seed`).
  The same seed gives the same samples.
- `Samples`: basis states as Python integers (qubit i is bit i, qiskit's order and
  the engine's, any number of qubits) with their counts, and facts about how they
  were drawn (a circuit's depth and gates).

The samplers: QAOA on the CPU engine, on its CUDA kernels and as a circuit on a
qiskit backend (`qsched.solvers.qaoa_samplers`), simulated annealing and tabu
search (`qsched.solvers.peers`), and here uniform random and exhaustive sampling.
`qsched.solvers.samplers` makes them from a name, where a user's option names one.
A stop request is a setting of the samplers whose one call can run long (QAOA's
angle optimizer), not an argument: a call of the others is short.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from qsched.solvers.engine import Qubo, basis_states, check_initial

#: What a sampler is seeded with (as `numpy.random.default_rng` takes it).
Seed = int | np.random.Generator


@dataclass(frozen=True, eq=False)
class QuboModel:
    """A QUBO to sample, with its one-hot ``groups`` of qubits and a start state ``initial``
    (one 1 per group, 0 on every qubit in no group), or neither."""

    qubo: Qubo
    groups: list[list[int]] | None = None
    initial: np.ndarray | None = None

    def __post_init__(self) -> None:
        check_initial(self.qubo.num_qubits, self.groups, self.initial)

    @property
    def num_qubits(self) -> int:
        return self.qubo.num_qubits


@dataclass(frozen=True)
class Samples:
    """Sampled basis states (integers, qubit i = bit i) and how often each was drawn;
    ``facts``: JSON-ready facts about how they were drawn, for the solver's result."""

    counts: dict[int, int]
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def reads(self) -> int:
        return sum(self.counts.values())


class QuboSampler(Protocol):
    """Anything that samples a `QuboModel` (module docstring)."""

    @property
    def name(self) -> str: ...

    def sample(self, model: QuboModel, reads: int, seed: Seed) -> Samples: ...


def integer_seed(seed: Seed) -> int:
    """An integer seed as it is; from a generator, one drawn from it (the generator moves on)."""
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(1 << 63))
    return int(seed)


def one_hot_states(model: QuboModel, choices: np.ndarray) -> dict[int, int]:
    """Basis states with, in group g, a 1 on the qubit at position ``choices[:, g]`` of the
    group, and 0 on every other qubit; and their counts."""
    groups = model.groups or []
    bits = np.zeros((choices.shape[0], model.num_qubits), dtype=np.int64)
    rows = np.arange(choices.shape[0])
    for g, group in enumerate(groups):
        bits[rows, np.asarray(group, dtype=np.int64)[choices[:, g]]] = 1
    return basis_states(bits)


class RandomSampler:
    """Uniformly random states, as many as another sampler draws: chance at equal samples.
    Bit strings of a bare QUBO; on a model with groups, a uniformly chosen qubit of each group
    (a random assignment; qubits in no group 0)."""

    name = "random"

    def sample(self, model: QuboModel, reads: int, seed: Seed) -> Samples:
        rng = np.random.default_rng(seed)
        if model.groups is None:
            bits = rng.integers(0, 2, size=(reads, model.num_qubits), dtype=np.int64)
            return Samples(basis_states(bits))
        sizes = np.array([len(group) for group in model.groups], dtype=np.int64)
        return Samples(one_hot_states(model, rng.integers(sizes, size=(reads, sizes.size))))


class ExhaustiveSampler:
    """Every state once, whatever ``reads`` asks: every bit string of a bare QUBO, or on a model
    with groups every choice of one qubit per group (every assignment; qubits in no group 0).
    What a perfect sampler could find, for models small enough to list."""

    name = "exhaustive"

    def sample(self, model: QuboModel, reads: int, seed: Seed) -> Samples:
        if model.groups is None:
            return Samples(dict.fromkeys(range(1 << model.num_qubits), 1))
        shape = tuple(len(group) for group in model.groups)
        every = np.arange(np.prod(shape, dtype=np.int64))
        return Samples(one_hot_states(model, np.stack(np.unravel_index(every, shape), axis=1)))
