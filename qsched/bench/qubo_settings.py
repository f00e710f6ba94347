"""What `qsched bench qubo` runs (`qubo_runner.Settings`), light to import.

Its own module so that the CLI takes its flags' defaults from the dataclass without loading
the engines: each default is written once, in the field.
"""

from __future__ import annotations

from dataclasses import dataclass

from qsched.solvers.samplers import PEERS

#: What ``--samplers`` chooses from: QAOA on the engine, the peers, QAOA as noisy circuits.
SAMPLERS = ("qaoa", *PEERS, "noisy")
#: Expectation values per depth for the angle optimizer (the ``qaoa`` solver's default).
OPTIMIZER_EVALUATIONS = 60
#: The QAOA engines: the CPU's compiled kernels, or their CUDA build.
ENGINES = ("cpu", "gpu")


@dataclass(frozen=True)
class Settings:
    """What runs: depths, shots and seeds for every sampler, and where the costly ones stop."""

    #: QAOA depths (layers).
    depths: tuple[int, ...] = (1, 2, 3, 4, 5)
    #: Samples each sampler draws per instance.
    shots: int = 1000
    seeds: tuple[int, ...] = (0,)
    #: Noisy circuits run up to this many qubits...
    noise_qubits: int = 10
    #: ...at these depths.
    noise_depths: tuple[int, ...] = (1, 3, 5)
    #: X-mixer QAOA runs up to this many qubits.
    x_mixer_qubits: int = 16
    #: One of `ENGINES`.
    engine: str = "cpu"
    #: Of `SAMPLERS`.
    samplers: tuple[str, ...] = SAMPLERS
    evaluations: int = OPTIMIZER_EVALUATIONS
    #: QAOA's angle strategies: the linear ramp, and the optimizer (the costly one at 30+ qubits).
    strategies: tuple[str, ...] = ("ramp", "opt")
    command: str = ""
