"""Where the quantum stages run, chosen by name.

- ``engine`` (default): the built-in statevector engine (`engine.QaoaEngine`)
  for QAOA; VQE samples on noiseless qiskit-aer.
- ``gpu``: the same engine's CUDA kernels (`gpu_engine.GpuQaoaEngine`) for
  QAOA, up to 30 qubits; VQE as on ``engine``. Refused (`BackendError`, so
  INVALID_ARGUMENT naming ``backend``) where no CUDA device is present.
- ``aer``: qiskit-aer, noiseless, sampled with shots.
- ``aer-noisy``: qiskit-aer with a depolarizing noise model (`NOISE`) on a
  generic CX / RZ / SX / X gate set, plus readout error.
- ``fake_<device>`` (``fake_torino``, ``fake_fez``, ``fake_brisbane``, any
  device in `qiskit_ibm_runtime.fake_provider`): the device's coupling map,
  gate set and calibration data, simulated with its noise in IBM Runtime's
  local testing mode.
- ``ibm:<device>`` (``ibm:ibm_torino``): real hardware through IBM Runtime, on
  the same code path as the fake devices. Needs credentials: an account saved
  with ``QiskitRuntimeService.save_account(token=..., channel="ibm_quantum_platform")``
  or the ``QISKIT_IBM_TOKEN`` (and optional ``QISKIT_IBM_INSTANCE``)
  environment variables. With ``QSCHED_IBM_LOCAL=1`` (`IBM_LOCAL`) the device
  names resolve through the runtime's own local service
  (``QiskitRuntimeLocalService``) instead: ``ibm:fake_torino`` then takes the
  whole hardware path (resolution by name, transpilation for the device, the
  Sampler, decoding) with no network, running on qiskit-aer with the device's
  noise.

The fake and IBM devices sample through qiskit-ibm-runtime's client-side
Sampler (`qiskit_ibm_runtime.executor_sampler.Sampler`, new in 0.50): it turns
the sampler's PUBs into a ``QuantumProgram`` on the client and runs it with the
``Executor`` primitive, on IBM Runtime or, for a fake device, locally on
qiskit-aer. It replaces the server-side ``qiskit_ibm_runtime.SamplerV2``, which
0.50 deprecated (a ``DeprecationWarning`` on every construction). Twirling and
dynamical decoupling stay off, so the device runs the circuit as transpiled and
as the facts describe it. Local runs are seeded with
``options.simulator.seed_simulator`` (the solver's seed; seed 0 is honoured, unlike
the legacy SamplerV2's local mode, which ignored it); IBM Runtime does not receive
simulator options.
The noiseless and ``aer-noisy`` backends keep qiskit-aer's own ``SamplerV2``.

Every circuit is transpiled once per backend (`Device.pass_manager`) and the
transpiled circuit keeps its parameters, so each optimizer iteration only
binds new angles. qiskit-ibm-runtime is imported only when a device needs it
(it is a slow import that most solves never need).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from qsched.model.problem import quoted

if TYPE_CHECKING:
    from qiskit.primitives import BaseSamplerV2
    from qiskit.providers import BackendV2
    from qiskit.transpiler import StagedPassManager
    from qiskit_aer.noise import NoiseModel
    from qiskit_ibm_runtime import QiskitRuntimeService
    from qiskit_ibm_runtime.fake_provider.local_service import QiskitRuntimeLocalService

#: Logical qubits each kind of backend takes: the engine's limit is set by the time an
#: angle optimization takes, the noisy ones by their simulation cost. IBM hardware could
#: take more, but the angles are optimized on the engine first, so it shares its limit.
#: The GPU's limit is time too, not memory: it is where a default depth-2 angle
#: optimization takes about as long as on the CPU engine at its limit (the layer times are
#: in benchmarks/results/gpu-engine.md). A card without room for the state fails the solve
#: with a MemoryError saying so (`gpu_engine.GpuQaoaEngine`): lower ``max_qubits``.
QUBIT_BUDGET = {"engine": 22, "gpu": 30, "aer": 22, "aer-noisy": 12, "fake": 12, "ibm": 22}
#: The names `SolverSpec.backends` advertises; ``<device>`` stands for any device name.
BACKEND_NAMES = (
    "engine",
    "gpu",
    "aer",
    "aer-noisy",
    "fake_torino",
    "fake_fez",
    "fake_brisbane",
    "fake_<device>",
    "ibm:<device>",
)
#: Depolarizing error per one- and two-qubit gate, and readout error, of ``aer-noisy``.
NOISE = {"one_qubit": 1e-3, "two_qubit": 1e-2, "readout": 1e-2}
NOISY_BASIS = ["cx", "rz", "sx", "x"]
#: The setting that runs ``ibm:<device>`` in IBM Runtime's local testing mode: set to 1 (or
#: true, yes, on), ``ibm:`` names resolve through ``QiskitRuntimeLocalService``, whose devices
#: are the fake ones (``ibm:fake_torino``), simulated on qiskit-aer with no network.
IBM_LOCAL = "QSCHED_IBM_LOCAL"


class BackendError(ValueError):
    """A backend name that does not resolve (unknown device, missing credentials)."""


@dataclass(frozen=True)
class Device:
    """A named backend: how to transpile for it and which primitives run there."""

    name: str
    seed: int = 0

    @property
    def kind(self) -> str:
        if self.name.startswith("fake_"):
            return "fake"
        if self.name.startswith("ibm:"):
            return "ibm"
        return self.name

    @property
    def simulates_qaoa_itself(self) -> bool:
        """QAOA runs on the built-in engine (CPU or GPU), which samples its own state: no
        circuit, no transpilation."""
        return self.kind in ("engine", "gpu")

    @property
    def max_qubits(self) -> int:
        if self.kind == "ibm" and ibm_local():
            return QUBIT_BUDGET["fake"]  # simulated with the device's noise, as a fake device is
        return QUBIT_BUDGET[self.kind]

    @cached_property
    def target(self) -> BackendV2:
        """The qiskit backend circuits are transpiled for and run on (``aer-noisy`` has none:
        its circuits go to a generic gate set and run on Aer's primitives with the noise model)."""
        if self.kind in ("engine", "gpu", "aer"):
            from qiskit_aer import AerSimulator

            return AerSimulator(method="statevector", seed_simulator=self.seed)
        if self.kind == "fake":
            return fake_device(self.name)
        if self.kind == "ibm":
            return ibm_device(self.name.removeprefix("ibm:"))
        raise BackendError(f"{self.name} has no device target")

    def pass_manager(self) -> StagedPassManager:
        from qiskit.transpiler import generate_preset_pass_manager

        if self.kind == "aer-noisy":
            return generate_preset_pass_manager(
                optimization_level=1, basis_gates=NOISY_BASIS, seed_transpiler=self.seed
            )
        return generate_preset_pass_manager(
            optimization_level=1, backend=self.target, seed_transpiler=self.seed
        )

    def sampler(self, shots: int) -> BaseSamplerV2:
        """A V2 sampler (`qiskit.primitives.BaseSamplerV2`) for this backend, seeded where it
        simulates: qiskit-aer's for the engine and Aer backends, IBM Runtime's client-side
        Sampler for the fake and IBM devices (see the module docstring)."""
        if self.kind in ("engine", "gpu", "aer", "aer-noisy"):
            from qiskit_aer.primitives import SamplerV2

            return SamplerV2(
                default_shots=shots,
                seed=self.seed,
                options={"backend_options": self._aer_options()},
            )
        from qiskit_ibm_runtime.executor_sampler import Sampler

        return Sampler(
            mode=self.target,
            options={
                "default_shots": shots,
                "twirling": {"enable_gates": False, "enable_measure": False},
                "dynamical_decoupling": {"enable": False},
                # Local testing mode only (fake devices, QSCHED_IBM_LOCAL); never sent to IBM.
                "simulator": {"seed_simulator": self.seed},
            },
        )

    def _aer_options(self) -> dict[str, Any]:
        # Statevector with sampled noise (trajectories), not Aer's automatic density matrix,
        # whose 4^n memory and time grow out of reach a few qubits past the noisy limit.
        options: dict[str, Any] = {"method": "statevector", "seed_simulator": self.seed}
        if self.kind == "aer-noisy":
            options["noise_model"] = noise_model()
        return options


def device(name: str, seed: int = 0) -> Device:
    """The backend called ``name``; raises `BackendError` if it does not exist here (for IBM
    hardware: if the device cannot be reached with the configured credentials)."""
    resolved = Device(name or "engine", seed)
    if resolved.kind not in QUBIT_BUDGET:
        raise BackendError(f"unknown backend {quoted(name)}; known: {', '.join(BACKEND_NAMES)}")
    if resolved.kind == "ibm" and not name.removeprefix("ibm:"):
        raise BackendError("name the IBM device: ibm:<device>, e.g. ibm:ibm_torino")
    if resolved.kind == "gpu":
        from qsched.solvers.gpu_engine import gpu_available

        if not gpu_available():
            raise BackendError(
                "backend gpu needs a CUDA device and this machine has none "
                "(numba.cuda finds no GPU); engine runs the same QAOA on the CPU"
            )
    if resolved.kind in ("fake", "ibm"):
        resolved.target  # noqa: B018 - resolve the device now, so a bad name fails before the solve
    return resolved


def fake_device(name: str) -> BackendV2:
    """``fake_torino`` -> `qiskit_ibm_runtime.fake_provider.FakeTorino()` (or its ``V2`` class)."""
    from qiskit_ibm_runtime import fake_provider

    stem = "Fake" + "".join(part.capitalize() for part in name.removeprefix("fake_").split("_"))
    for class_name in (stem, stem + "V2"):
        if name.startswith("fake_") and hasattr(fake_provider, class_name):
            return getattr(fake_provider, class_name)()
    devices = sorted(
        {
            _snake(n)
            for n in dir(fake_provider)
            if n.startswith("Fake") and n != "FakeProviderForBackendV2"
        }
    )
    raise BackendError(
        f"unknown fake device {quoted(name)}; qiskit-ibm-runtime has {', '.join(devices)}"
    )


def _snake(class_name: str) -> str:
    """``FakeAthensV2`` -> ``fake_athens``."""
    return (
        "fake_"
        + re.sub(
            r"(?<!^)(?=[A-Z])", "_", class_name.removeprefix("Fake").removesuffix("V2")
        ).lower()
    )


def ibm_local() -> bool:
    """Whether `IBM_LOCAL` asks for IBM Runtime's local testing mode."""
    return os.environ.get(IBM_LOCAL, "").strip().lower() in ("1", "true", "yes", "on")


def ibm_service() -> QiskitRuntimeService | QiskitRuntimeLocalService:
    """Where ``ibm:<device>`` names resolve: IBM Runtime (`QiskitRuntimeService`: network and
    credentials, a saved account or QISKIT_IBM_TOKEN), or with `IBM_LOCAL` set its local
    testing mode (`QiskitRuntimeLocalService`: the fake devices, no network)."""
    if ibm_local():
        from qiskit_ibm_runtime.fake_provider.local_service import QiskitRuntimeLocalService

        return QiskitRuntimeLocalService()
    from qiskit_ibm_runtime import QiskitRuntimeService

    token = os.environ.get("QISKIT_IBM_TOKEN")
    if token:
        return QiskitRuntimeService(
            channel="ibm_quantum_platform",
            token=token,
            instance=os.environ.get("QISKIT_IBM_INSTANCE"),
        )
    return QiskitRuntimeService()


def ibm_device(device_name: str) -> BackendV2:
    """The IBM device ``device_name`` from `ibm_service` (a real device, or a fake one in local
    testing mode); `BackendError` if it does not resolve."""
    try:
        return ibm_service().backend(device_name)
    except Exception as error:  # no account, no network, unknown device: one answer to the caller
        if ibm_local():
            raise BackendError(
                f"IBM device {quoted(device_name)} is not in IBM Runtime's local testing mode "
                f"({IBM_LOCAL} is set), whose devices are the fake ones, e.g. ibm:fake_torino: "
                f"{error}"
            ) from error
        raise BackendError(f"IBM device {quoted(device_name)} is not reachable: {error}") from error


def noise_model() -> NoiseModel:
    """The ``aer-noisy`` model: depolarizing gate errors and symmetric readout error (`NOISE`)."""
    from qiskit_aer.noise import NoiseModel, ReadoutError, depolarizing_error

    model = NoiseModel(basis_gates=NOISY_BASIS)
    model.add_all_qubit_quantum_error(depolarizing_error(NOISE["one_qubit"], 1), ["sx", "x"])
    model.add_all_qubit_quantum_error(depolarizing_error(NOISE["two_qubit"], 2), ["cx"])
    flip = NOISE["readout"]
    model.add_all_qubit_readout_error(ReadoutError([[1 - flip, flip], [flip, 1 - flip]]))
    return model
