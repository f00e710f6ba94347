"""``backend=gpu``: the qaoa and hybrid solvers on the engine's CUDA kernels, and its refusal
where no CUDA device is present.

In CI the kernels run in numba's CUDA simulator (the conftest turns it on), so
``gpu`` is accepted there and the solvers go end to end through the real
kernels at tiny sizes; a machine without a device and without the simulator
refuses ``gpu`` by field, which a subprocess shows for the CLI and a patched
device probe for the service.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from builders import generated
from service_helpers import assert_invalid, rpc_error, solve

from qsched.formats.generate import generate
from qsched.model import registry
from qsched.model.problem import ProblemError
from qsched.model.solver import Budget
from qsched.solvers import gpu_engine

TINY_QAOA = {"depth": 1, "optimizer_evaluations": 4, "shots": 64, "vqe": False, "candidates": 2}


def test_qaoa_on_the_gpu_engine_answers_feasibly_and_deterministically():
    problem = generated(3, 2, 1)
    first = registry.solve(problem, "qaoa", Budget(), 5, None, {"backend": "gpu", **TINY_QAOA})
    second = registry.solve(problem, "qaoa", Budget(), 5, None, {"backend": "gpu", **TINY_QAOA})
    assert first.evaluation.feasible
    assert first.facts["backend"] == "gpu"
    assert first.evaluation.assignment.tolist() == second.evaluation.assignment.tolist()
    assert first.facts["distinct_samples"] == second.facts["distinct_samples"]


def test_hybrid_windows_run_on_the_gpu_engine():
    options = {
        "backend": "gpu",
        "window_qubits": 6,
        "depth": 1,
        "optimizer_evaluations": 4,
        "shots": 32,
        "polish_steps": 5,
    }
    result = registry.solve(generated(6, 3, 2), "hybrid", Budget(evaluations=60), 1, None, options)
    assert result.evaluation.feasible and result.facts["backend"] == "gpu"
    assert result.facts["sub_solvers"]["qaoa"]["windows"] >= 1
    assert result.facts["max_window_qubits"] <= 6


def test_hybrid_refuses_windows_wider_than_its_backend_takes():
    with pytest.raises(ProblemError) as error:
        registry.solve(
            generated(4, 2, 1), "hybrid", Budget(evaluations=10), 0, None, {"window_qubits": 26}
        )
    assert [v.field for v in error.value.violations] == ["options.window_qubits"]


@pytest.mark.skipif(Path("/proc/driver/nvidia").exists(), reason="this machine has a CUDA driver")
def test_without_a_cuda_device_the_cli_refuses_gpu_by_field(tmp_path):
    """No device and no simulator: the probe finds nothing and the field is named."""
    environment = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    completed = subprocess.run(
        [sys.executable, "-m", "qsched", "solve", "datasets/examples/gen-8x3-s1.json"]
        + ["--solver", "qaoa", "--option", "backend=gpu"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )
    assert completed.returncode != 0
    assert "backend" in completed.stderr and "CUDA" in completed.stderr
    assert "Traceback" not in completed.stderr


@pytest.mark.parametrize("solver", ["qaoa", "hybrid"])
def test_without_a_cuda_device_the_service_answers_invalid_argument_naming_backend(
    stub, monkeypatch, solver
):
    monkeypatch.setattr(gpu_engine, "gpu_available", lambda: False)
    error = rpc_error(solve, stub, generate(3, 2, 1), solver, backend="gpu")
    assert_invalid(error, "backend")
    assert "CUDA" in error.details()
