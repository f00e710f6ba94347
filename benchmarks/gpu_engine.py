"""QAOA layers on the GPU engine against the CPU engine, side by side on one machine.

    python benchmarks/gpu_engine.py [--qubits 20 22 ... 32] [--cpu-qubits 20 22 24]
                                    [--out benchmarks/results/gpu-engine.json]
    python benchmarks/gpu_engine.py --render benchmarks/results/gpu-engine.json

Needs a CUDA device; imports only numpy, numba and the two engine modules, so
it runs on a GPU machine without the rest of qsched's dependencies.

For each qubit count, one random QUBO with integer weights and every coupling
present (the densest QUBO of that size: the cost diagonal's cost grows with
the couplings, a layer's does not) is built on the GPU engine in complex64
and, while memory allows, complex128. Reported per size: seconds to build
(cost diagonal), milliseconds per X-mixer layer (time of 6 layers less time
of 1, over 5, so the state's preparation drops out; best of ``--repeats``),
one expectation value at depth 1, 1,024 samples at depth 1, and the XY
mixer's layer on one-hot groups of 4 qubits. The CPU engine (all cores) is
timed on the same QUBOs up to ``--cpu-qubits``, and the two states are
compared there (largest amplitude difference), so the speed-up is a ratio
from one run and the pin is checked at sizes the tests do not reach.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path

import numpy as np
from numba import cuda

from qsched.solvers.engine import QaoaEngine, Qubo
from qsched.solvers.gpu_engine import GpuQaoaEngine

LAYERS = 6
ANGLES = (0.37, 0.61)


def dense_qubo(n: int, seed: int = 0) -> Qubo:
    rng = np.random.default_rng(seed)
    quadratic = np.triu(rng.integers(-4, 5, (n, n)).astype(float), 1)
    return Qubo(rng.integers(-6, 6, n).astype(float), quadratic, 0.0)


def one_hot(n: int) -> tuple[list[list[int]], np.ndarray]:
    """Groups of 4 qubits (the last one smaller), each started on its first qubit."""
    groups = [list(range(k, min(k + 4, n))) for k in range(0, n, 4)]
    initial = np.zeros(n, dtype=np.int64)
    initial[[g[0] for g in groups]] = 1
    return groups, initial


def synchronized(engine, layers: int) -> float:
    """Seconds for one state evolution of ``layers`` layers, waiting for the device."""
    start = time.perf_counter()
    engine._evolve([ANGLES[0]] * layers, [ANGLES[1]] * layers)
    cuda.synchronize()
    return time.perf_counter() - start


def per_layer(engine, repeats: int) -> float:
    """Milliseconds per layer: (LAYERS layers - 1 layer) / (LAYERS - 1), best of ``repeats``."""
    synchronized(engine, 1)  # compile and warm
    many = min(synchronized(engine, LAYERS) for _ in range(repeats))
    one = min(synchronized(engine, 1) for _ in range(repeats))
    return 1e3 * (many - one) / (LAYERS - 1)


def timed(call, *args) -> tuple[float, object]:
    start = time.perf_counter()
    value = call(*args)
    cuda.synchronize()
    return time.perf_counter() - start, value


def cpu_per_layer(engine: QaoaEngine, repeats: int) -> float:
    def evolve(layers: int) -> float:
        start = time.perf_counter()
        engine._evolve([ANGLES[0]] * layers, [ANGLES[1]] * layers)
        return time.perf_counter() - start

    evolve(1)
    many = min(evolve(LAYERS) for _ in range(repeats))
    one = min(evolve(1) for _ in range(repeats))
    return 1e3 * (many - one) / (LAYERS - 1)


def measure(n: int, single: bool, cpu_qubits: set[int], repeats: int) -> dict:
    qubo = dense_qubo(n)
    row: dict = {"qubits": n, "precision": "complex64" if single else "complex128"}
    build_seconds, engine = timed(GpuQaoaEngine, qubo, None, None, single)
    row["build_seconds"] = build_seconds
    row["passes"] = len(engine.passes)
    row["layer_ms"] = per_layer(engine, repeats)
    engine.sample([ANGLES[0]], [ANGLES[1]], 1024, np.random.default_rng(0))  # compile, warm
    row["expectation_ms"] = 1e3 * timed(engine.expectation, [ANGLES[0]], [ANGLES[1]])[0]
    rng = np.random.default_rng(0)
    row["sample_1024_ms"] = 1e3 * timed(engine.sample, [ANGLES[0]], [ANGLES[1]], 1024, rng)[0]
    if n in cpu_qubits:
        cpu = QaoaEngine(qubo, single_precision=single)
        row["cpu_layer_ms"] = cpu_per_layer(cpu, repeats)
        gammas, betas = [ANGLES[0]] * 3, [ANGLES[1]] * 3
        row["max_state_difference"] = float(
            np.abs(engine.state(gammas, betas) - cpu.state(gammas, betas)).max()
        )
        del cpu
    del engine
    gc.collect()
    groups, initial = one_hot(n)
    xy = GpuQaoaEngine(qubo, groups, initial, single_precision=single)
    row["xy_passes"] = len(xy.passes)
    row["xy_layer_ms"] = per_layer(xy, repeats)
    del xy
    gc.collect()
    return row


def fits(n: int, single: bool) -> bool:
    """State and cost diagonal within 90 % of the device's free memory."""
    free, _ = cuda.current_context().get_memory_info()
    return (1 << n) * ((8 if single else 16) + 8) < 0.9 * free


#: ms per X-mixer layer of the plain CuPy statevector (complex64) that issue 15 measured on an
#: H200: the anchor these kernels are judged against.
CUPY_ANCHOR_MS = {20: 0.11, 24: 1.3, 26: 4.8, 28: 21.0, 30: 92.0, 32: 400.0}


def report(data: dict, command: str) -> str:
    """The Markdown report of one run's rows."""
    lines = [
        "# QAOA layers on the GPU engine",
        "",
        f"Device: {data['device']}. Command: `{command}`.",
        "",
        "One random QUBO per size, every coupling present. ms/layer: (6 layers - 1 layer) / 5,"
        " best of the repeats, waiting for the device. CPU: the CPU engine on all of the GPU"
        " machine's 16 cores, same QUBO, same run. Max |diff|: largest amplitude difference"
        " between the two engines' states after 3 layers. CuPy: the plain CuPy statevector"
        " figure quoted in issue 15 (not re-measured here).",
        "",
    ]
    for precision in ("complex64", "complex128"):
        rows = [r for r in data["rows"] if r["precision"] == precision]
        if not rows:
            continue
        lines += [
            f"## {precision}",
            "",
            "| qubits | passes | X layer (ms) | XY layer (ms) | <C> at p=1 (ms)"
            " | 1,024 samples (ms) | CPU layer (ms) | CPU / GPU | CuPy layer (ms)"
            " | CuPy / ours | max diff |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in rows:
            cpu = r.get("cpu_layer_ms")
            anchor = CUPY_ANCHOR_MS.get(r["qubits"]) if precision == "complex64" else None
            cells = [
                r["qubits"],
                r["passes"],
                f"{r['layer_ms']:.3g}",
                f"{r['xy_layer_ms']:.3g}",
                f"{r['expectation_ms']:.3g}",
                f"{r['sample_1024_ms']:.3g}",
                f"{cpu:.3g}" if cpu else "",
                f"{cpu / r['layer_ms']:.0f}x" if cpu else "",
                f"{anchor:.3g}" if anchor else "",
                f"{anchor / r['layer_ms']:.2f}x" if anchor else "",
                f"{r['max_state_difference']:.1e}" if "max_state_difference" in r else "",
            ]
            lines.append("| " + " | ".join(str(c) for c in cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--qubits", type=int, nargs="+", default=[20, 22, 24, 26, 28, 30, 32])
    parser.add_argument("--cpu-qubits", type=int, nargs="+", default=[20, 22, 24])
    parser.add_argument(
        "--double-qubits", type=int, nargs="*", help="complex128 sizes (default: --qubits)"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/gpu-engine.json"))
    parser.add_argument("--render", type=Path, help="only write the report of this run's JSON")
    args = parser.parse_args()
    if args.render:
        data = json.loads(args.render.read_text())
        args.render.with_suffix(".md").write_text(report(data, data["command"]))
        return
    device = cuda.get_current_device()
    rows = []
    double = set(args.qubits if args.double_qubits is None else args.double_qubits)
    for single in (True, False):
        for n in args.qubits if single else sorted(double):
            if not fits(n, single):
                print(f"{n} qubits, complex{64 if single else 128}: does not fit", flush=True)
                continue
            rows.append(measure(n, single, set(args.cpu_qubits), args.repeats))
            print(json.dumps(rows[-1]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    name = getattr(device, "name", b"simulator")
    name = name.decode() if isinstance(name, bytes) else str(name)
    data = {"device": name, "command": " ".join(["python", *sys.argv]), "rows": rows}
    args.out.write_text(json.dumps(data, indent=1))
    args.out.with_suffix(".md").write_text(report(data, data["command"]))


if __name__ == "__main__":
    main()
