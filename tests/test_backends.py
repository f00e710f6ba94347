"""IBM Runtime backends on the current API: fake devices and ``ibm:<device>`` through the
client-side Sampler (`qiskit_ibm_runtime.executor_sampler.Sampler`), seeded, with no deprecation
warnings from the runtime; ``ibm:`` end to end in the runtime's local testing mode
(QSCHED_IBM_LOCAL), with no network. Sizes are tiny: every fake-device run builds the device's
noise model (seconds)."""

from __future__ import annotations

import numpy as np
import pytest
from builders import generated

from qsched.model import registry
from qsched.model.problem import ProblemError
from qsched.model.solver import Budget
from qsched.solvers import backends
from qsched.solvers.circuit import TranspiledQaoa
from qsched.solvers.engine import Qubo


def no_runtime_deprecations(test):
    """A runtime deprecation is an error in ``test``, wherever the warning is attributed: the
    runtime's own modules, or (its stacklevel) the caller that built a deprecated primitive."""
    test = pytest.mark.filterwarnings("error::DeprecationWarning:qiskit_ibm_runtime")(test)
    return pytest.mark.filterwarnings("error:.*qiskit-ibm-runtime:DeprecationWarning")(test)


def run(problem, seed=0, **options):
    return registry.solve(problem, "qaoa", Budget(), seed, None, options)


@pytest.fixture
def ibm_local(monkeypatch):
    monkeypatch.setenv(backends.IBM_LOCAL, "1")


@pytest.fixture
def no_ibm_account(monkeypatch):
    """No local mode and no token (a saved account would still be read: this machine has none)."""
    for name in (backends.IBM_LOCAL, "QISKIT_IBM_TOKEN", "QISKIT_IBM_INSTANCE"):
        monkeypatch.delenv(name, raising=False)


@no_runtime_deprecations
def test_a_fake_device_samples_qaoa_through_the_client_side_sampler_seeded():
    from qiskit_ibm_runtime.executor_sampler import Sampler

    qubo = Qubo(np.array([1.0, -1.0, 0.5]), np.triu(np.full((3, 3), 0.5), 1))
    circuit = TranspiledQaoa(qubo, 1, backends.device("fake_torino", seed=0), shots=256)
    assert isinstance(circuit._sampler, Sampler)
    first = circuit.sample([0.4], [0.3])
    assert sum(first.values()) == 256 and all(0 <= z < 8 for z in first)
    assert len(first) > 2  # a spread sample
    # Seed 0 is honoured (the legacy SamplerV2's local mode ignored it: runs were unseeded).
    assert circuit.sample([0.4], [0.3]) == first


def test_fake_and_ibm_devices_share_one_sampler_configuration(ibm_local):
    fake = backends.device("fake_torino", seed=5).sampler(100)
    ibm = backends.device("ibm:fake_torino", seed=5).sampler(100)
    assert type(fake) is type(ibm) and type(fake).__module__.startswith(
        "qiskit_ibm_runtime.executor_sampler"
    )
    assert fake.options == ibm.options
    assert fake.options.default_shots == 100 and fake.options.simulator.seed_simulator == 5
    assert not (fake.options.twirling.enable_gates or fake.options.twirling.enable_measure)
    assert not fake.options.dynamical_decoupling.enable


def test_ibm_names_resolve_through_the_runtimes_local_service(ibm_local):
    from qiskit_ibm_runtime.fake_provider import FakeTorino

    device = backends.device("ibm:fake_torino")
    assert device.kind == "ibm" and isinstance(device.target, FakeTorino)
    # Simulated with the device's noise, so it takes the fake devices' qubit budget.
    assert device.max_qubits == backends.QUBIT_BUDGET["fake"]


@no_runtime_deprecations
def test_the_ibm_path_runs_end_to_end_in_local_testing_mode(ibm_local):
    """Resolution by name, transpilation for the device, the client-side Sampler, decoding and the
    solver's facts: what real hardware takes, on qiskit-aer with no network."""
    result = run(generated(3, 2, 1), backend="ibm:fake_torino", backend_iterations=0, vqe=False)
    facts = result.facts
    assert result.evaluation.feasible and facts["backend"] == "ibm:fake_torino"
    assert facts["physical_qubits"] == 133  # laid out on the 133-qubit Heron device
    assert facts["two_qubit_gates"] > 0 and facts["circuit_depth"] > 0
    assert facts["shots"] == 1024 and 0 < facts["feasible_sample_share"] <= 1


def test_ibm_names_outside_the_local_service_are_refused_by_field(ibm_local):
    with pytest.raises(ProblemError) as error:
        run(generated(3, 2, 1), backend="ibm:ibm_torino")
    violation = error.value.violations[0]
    assert violation.field == "backend"
    assert "local testing mode" in violation.description and "fake" in violation.description


def test_ibm_without_credentials_is_a_backend_error(no_ibm_account):
    with pytest.raises(backends.BackendError, match="'ibm_torino' is not reachable"):
        backends.device("ibm:ibm_torino")
