"""QAOA expectation values: the built-in engine vs qiskit-aer on identical circuits, side by side.

    python benchmarks/qaoa_engine.py [--qubits 16 20 22 24] [--depths 1 2 3] [--repeats 3]

For each qubit count, one random QUBO with small integer weights (like the
integer-scaled QUBOs of task allocation) is evaluated at depths p = 1..3 by
both simulators, each in its own fresh process so its peak memory (max RSS)
is its own. The engine computes <C> from its state vector; Aer runs the
transpiled-once parameterized circuit of `qsched.solvers.circuit` with the
angles bound, saves the statevector, and <C> is taken against the same cost
diagonal; the two <C> must agree. Times are the best of ``--repeats`` after
one warm-up, which holds the one-time setup (the engine's cost diagonal,
Aer's transpilation); the ratio column is Aer time / engine time, measured in
the same run. Peak RSS includes each process's imports (qiskit and Aer's on
the Aer side) and, on the Aer side, the copied state.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np


def random_integer_qubo(n: int, seed: int = 0):
    from qsched.solvers.engine import Qubo

    rng = np.random.default_rng(seed)
    quadratic = np.triu(np.round(rng.normal(size=(n, n)) * 3), 1)
    return Qubo(np.round(rng.normal(size=n) * 3), quadratic, 0.0)


def measure(backend: str, n: int, depths: list[int], repeats: int) -> dict:
    """Best seconds per expectation at each depth, in this process."""
    from qsched.solvers.engine import QaoaEngine, cost_diagonal

    qubo = random_integer_qubo(n)
    rng = np.random.default_rng(1)
    times = {}
    if backend == "engine":
        engine = QaoaEngine(qubo)

        def expectation(gammas, betas):
            return engine.expectation(gammas, betas)

    else:
        from qiskit import transpile
        from qiskit_aer import AerSimulator

        from qsched.solvers.circuit import bind, qaoa_circuit

        simulator = AerSimulator(method="statevector")
        diagonal = cost_diagonal(qubo)
        compiled = {}

        def expectation(gammas, betas):
            depth = len(gammas)
            if depth not in compiled:
                circuit = qaoa_circuit(qubo, depth)
                circuit.save_statevector()
                compiled[depth] = transpile(circuit, simulator)
            state = np.asarray(
                simulator.run(bind(compiled[depth], gammas, betas)).result().get_statevector()
            )
            return float((np.abs(state) ** 2) @ diagonal)

    values = {}
    for depth in depths:
        gammas, betas = rng.uniform(0, np.pi, depth), rng.uniform(0, np.pi, depth)
        values[depth] = expectation(
            gammas, betas
        )  # warm-up: Aer transpiles here, outside the timing
        times[depth] = min(_timed(expectation, gammas, betas) for _ in range(repeats))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"backend": backend, "qubits": n, "seconds": times, "values": values, "peak_mb": peak}


def _timed(function, *args) -> float:
    started = time.perf_counter()
    function(*args)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qubits", type=int, nargs="+", default=[16, 20, 22, 24])
    parser.add_argument("--depths", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--measure", nargs=2, metavar=("BACKEND", "QUBITS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        backend, n = args.measure[0], int(args.measure[1])
        print(json.dumps(measure(backend, n, args.depths, args.repeats)))
        return
    print(
        "| qubits | p | engine ms | qiskit-aer ms | aer / engine | engine peak MB | aer peak MB |"
    )
    print("|---|---|---|---|---|---|---|")
    for n in args.qubits:
        results = {}
        for backend in ("engine", "aer"):
            command = [
                sys.executable,
                __file__,
                "--measure",
                backend,
                str(n),
                "--repeats",
                str(args.repeats),
                "--depths",
                *map(str, args.depths),
            ]
            results[backend] = json.loads(
                subprocess.run(command, capture_output=True, text=True, check=True).stdout
            )
        for depth in args.depths:
            same = np.isclose(
                results["engine"]["values"][str(depth)],
                results["aer"]["values"][str(depth)],
                rtol=1e-7,
                atol=1e-7,
            )
            assert same, f"engine and Aer disagree on <C> at {n} qubits, p = {depth}"
            engine, aer = (
                results["engine"]["seconds"][str(depth)],
                results["aer"]["seconds"][str(depth)],
            )
            print(
                f"| {n} | {depth} | {1e3 * engine:.1f} | {1e3 * aer:.1f} | {aer / engine:.1f}x "
                f"| {results['engine']['peak_mb']:.0f} | {results['aer']['peak_mb']:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
