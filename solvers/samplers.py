"""The QUBO samplers by name: where a user's option names one, it becomes a sampler here.

The hybrid's ``sub_solver`` option and ``qsched bench qubo --samplers`` name
samplers; `make_sampler` turns a name and the caller's `SamplerSettings` into the
sampler object (`qsched.solvers.sampling.QuboSampler`), each taking the settings it
uses. Like the solver registry, it imports a sampler's module only when that
sampler is asked for, so naming them (`NAMES`, `PEERS`) costs no dwave-samplers or
qiskit import (a GPU machine with numpy, scipy and numba alone runs the QUBO
benchmark's QAOA rows: `benchmarks/qubo_gpu.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from qsched.solvers.sampling import ExhaustiveSampler, QuboSampler, RandomSampler

if TYPE_CHECKING:
    from qsched.solvers.backends import Device
    from qsched.solvers.qaoa_samplers import AngleSource

#: QAOA's classical peers on the same QUBO: simulated annealing, tabu search, chance.
PEERS = ("sa", "tabu", "random")
#: Every sampler's name, QAOA first (the order in which the hybrid's ``mixed`` takes them).
NAMES = ("qaoa", "sa", "tabu", "exhaustive", "random")
#: Metropolis sweeps per simulated-annealing read (dwave-samplers' own default).
SWEEPS = 1000
#: Tabu restarts per read: each restart is a simple tabu search of
#: ``max(10_000 n, 500_000) / 4`` variable updates (dwave-samplers' defaults).
RESTARTS = 1


@dataclass(frozen=True)
class SamplerSettings:
    """What the samplers are built with; each takes the fields it uses.

    ``angles`` and ``device``: QAOA's angle source and backend (None: the CPU engine),
    ``device_iterations``: COBYLA steps on a circuit backend's sampled cost. ``sweeps``: per
    annealing read. ``tabu_restarts`` per tabu read, ``tabu_updates`` per simple tabu search
    (None: dwave-samplers' length).
    """

    angles: AngleSource | None = None
    device: Device | None = None
    device_iterations: int = 0
    sweeps: int = SWEEPS
    tabu_restarts: int = RESTARTS
    tabu_updates: int | None = None


def _qaoa(settings: SamplerSettings) -> QuboSampler:
    from qsched.solvers.backends import Device
    from qsched.solvers.qaoa_samplers import qaoa_sampler

    if settings.angles is None:
        raise ValueError("the qaoa sampler needs an angle source (SamplerSettings.angles)")
    device = settings.device or Device("engine")
    return qaoa_sampler(device, settings.angles, settings.device_iterations)


def _annealing(settings: SamplerSettings) -> QuboSampler:
    from qsched.solvers.peers import AnnealingSampler

    return AnnealingSampler(settings.sweeps)


def _tabu(settings: SamplerSettings) -> QuboSampler:
    from qsched.solvers.peers import TabuSearchSampler

    return TabuSearchSampler(settings.tabu_restarts, settings.tabu_updates)


_FACTORIES: dict[str, Callable[[SamplerSettings], QuboSampler]] = {
    "qaoa": _qaoa,
    "sa": _annealing,
    "tabu": _tabu,
    "exhaustive": lambda _: ExhaustiveSampler(),
    "random": lambda _: RandomSampler(),
}


def make_sampler(name: str, settings: SamplerSettings | None = None) -> QuboSampler:
    """The sampler called ``name`` (one of `NAMES`), built with ``settings``; `ValueError` naming
    the known ones for any other name."""
    factory = _FACTORIES.get(name)
    if factory is None:
        raise ValueError(f"unknown QUBO sampler {name!r}; known: {', '.join(NAMES)}")
    return factory(settings or SamplerSettings())
