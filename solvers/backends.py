"""Where the quantum stages run, chosen by name.

- ``engine`` (default): the built-in statevector engine (`engine.QaoaEngine`)
  for QAOA; VQE runs on qiskit-aer's exact estimator.
- ``aer``: qiskit-aer, noiseless, sampled with shots.
- ``aer-noisy``: qiskit-aer with a depolarizing noise model (`NOISE`) on a
  generic CX / RZ / SX / X gate set, plus readout error.
- ``fake_<device>`` (``fake_torino``, ``fake_fez``, ``fake_brisbane``, any
  device in `qiskit_ibm_runtime.fake_provider`): the device's coupling map,
  gate set and calibration data, simulated with its noise through the
  Runtime ``SamplerV2`` / ``EstimatorV2`` in local mode.
- ``ibm:<device>`` (``ibm:ibm_torino``): real hardware through IBM Runtime, on
  the same code path as the fake devices. Needs credentials: an account saved
  with ``QiskitRuntimeService.save_account(token=..., channel="ibm_quantum_platform")``
  or the ``QISKIT_IBM_TOKEN`` (and optional ``QISKIT_IBM_INSTANCE``)
  environment variables.

Every circuit is transpiled once per backend (`Device.pass_manager`) and the
transpiled circuit keeps its parameters, so each optimizer iteration only
binds new angles. qiskit-ibm-runtime is imported only when a device needs it
(it takes about a second to import).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from typing import Any

#: Logical qubits each kind of backend takes (QAOA state vectors, noisy simulations).
QUBIT_BUDGET = {"engine": 22, "aer": 22, "aer-noisy": 12, "fake": 12, "ibm": 100}
#: The names `SolverSpec.backends` advertises; ``<device>`` stands for any device name.
BACKEND_NAMES = ("engine", "aer", "aer-noisy", "fake_torino", "fake_fez", "fake_brisbane", "fake_<device>", "ibm:<device>")
#: Depolarizing error per one- and two-qubit gate, and readout error, of ``aer-noisy``.
NOISE = {"one_qubit": 1e-3, "two_qubit": 1e-2, "readout": 1e-2}
NOISY_BASIS = ["cx", "rz", "sx", "x"]


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
    def max_qubits(self) -> int:
        return QUBIT_BUDGET[self.kind]

    @cached_property
    def target(self):
        """The qiskit backend circuits are transpiled for and run on."""
        if self.kind in ("engine", "aer"):
            from qiskit_aer import AerSimulator

            return AerSimulator(method="statevector", seed_simulator=self.seed)
        if self.kind == "aer-noisy":
            from qiskit_aer import AerSimulator

            return AerSimulator(method="statevector", noise_model=noise_model(), basis_gates=NOISY_BASIS, seed_simulator=self.seed)
        if self.kind == "fake":
            return fake_device(self.name)
        return ibm_device(self.name.removeprefix("ibm:"))

    def pass_manager(self):
        from qiskit.transpiler import generate_preset_pass_manager

        if self.kind == "aer-noisy":
            return generate_preset_pass_manager(optimization_level=1, basis_gates=NOISY_BASIS, seed_transpiler=self.seed)
        return generate_preset_pass_manager(optimization_level=1, backend=self.target, seed_transpiler=self.seed)

    def sampler(self, shots: int):
        """A SamplerV2 for this backend, seeded where it simulates."""
        if self.kind in ("engine", "aer", "aer-noisy"):
            from qiskit_aer.primitives import SamplerV2

            return SamplerV2(default_shots=shots, seed=self.seed, options={"backend_options": self._aer_options()})
        from qiskit_ibm_runtime import SamplerV2

        return SamplerV2(mode=self.target, options=self._runtime_options(default_shots=shots))

    def estimator(self):
        """An EstimatorV2: exact on the noiseless simulators, with shot noise and device noise elsewhere."""
        if self.kind in ("engine", "aer", "aer-noisy"):
            from qiskit_aer.primitives import EstimatorV2

            options: dict[str, Any] = {"backend_options": self._aer_options(), "run_options": {"seed": self.seed}}
            if self.kind == "aer-noisy":
                options["default_precision"] = 0.01
            return EstimatorV2(options=options)
        from qiskit_ibm_runtime import EstimatorV2

        return EstimatorV2(mode=self.target, options=self._runtime_options(default_precision=0.01))

    def _aer_options(self) -> dict[str, Any]:
        # Statevector with sampled noise (trajectories), not Aer's automatic density matrix,
        # which costs 4^n memory: 13 qubits take a gigabyte and a minute per VQE solve.
        options: dict[str, Any] = {"method": "statevector", "seed_simulator": self.seed}
        if self.kind == "aer-noisy":
            options["noise_model"] = noise_model()
        return options

    def _runtime_options(self, **options: Any) -> dict[str, Any]:
        if self.kind == "fake":
            # Local mode ignores a simulator seed of 0, so seeds are shifted by one.
            options["simulator"] = {"seed_simulator": self.seed + 1}
        return options


def device(name: str, seed: int = 0) -> Device:
    """The backend called ``name``; raises `BackendError` if it does not exist here."""
    resolved = Device(name or "engine", seed)
    if resolved.kind not in QUBIT_BUDGET:
        raise BackendError(f"unknown backend {name!r}; known: {', '.join(BACKEND_NAMES)}")
    if resolved.kind == "fake":
        fake_device(name)
    if resolved.kind == "ibm" and not name.removeprefix("ibm:"):
        raise BackendError("name the IBM device: ibm:<device>, e.g. ibm:ibm_torino")
    return resolved


def fake_device(name: str):
    """``fake_torino`` -> `qiskit_ibm_runtime.fake_provider.FakeTorino()`."""
    from qiskit_ibm_runtime import fake_provider

    class_name = "Fake" + "".join(part.capitalize() for part in name.removeprefix("fake_").split("_"))
    if not name.startswith("fake_") or not hasattr(fake_provider, class_name):
        devices = sorted(n for n in dir(fake_provider) if n.startswith("Fake") and not n.endswith("V2"))
        raise BackendError(f"unknown fake device {name!r}; qiskit-ibm-runtime has {', '.join(devices)}")
    return getattr(fake_provider, class_name)()


def ibm_device(device_name: str):
    """A real IBM device through IBM Runtime (needs a saved account or QISKIT_IBM_TOKEN)."""
    from qiskit_ibm_runtime import QiskitRuntimeService

    token = os.environ.get("QISKIT_IBM_TOKEN")
    try:
        if token:
            service = QiskitRuntimeService(channel="ibm_quantum_platform", token=token, instance=os.environ.get("QISKIT_IBM_INSTANCE"))
        else:
            service = QiskitRuntimeService()
        return service.backend(device_name)
    except Exception as error:  # no account, no network, unknown device: all one answer to the caller
        raise BackendError(f"IBM device {device_name!r} is not reachable: {error}") from error


def noise_model():
    """The ``aer-noisy`` model: depolarizing gate errors and symmetric readout error (`NOISE`)."""
    from qiskit_aer.noise import NoiseModel, ReadoutError, depolarizing_error

    model = NoiseModel(basis_gates=NOISY_BASIS)
    model.add_all_qubit_quantum_error(depolarizing_error(NOISE["one_qubit"], 1), ["sx", "x"])
    model.add_all_qubit_quantum_error(depolarizing_error(NOISE["two_qubit"], 2), ["cx"])
    flip = NOISE["readout"]
    model.add_all_qubit_readout_error(ReadoutError([[1 - flip, flip], [flip, 1 - flip]]))
    return model
