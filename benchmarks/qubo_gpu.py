"""QAOA rows of `qsched bench qubo` on the GPU engine, for the instances too wide for the CPU.

    qsched bench qubo --qubits 24 26 28 30 32 --instances-per-size 1 --save-instances DIR
    python benchmarks/qubo_gpu.py DIR OUT.jsonl [--plan 24-28:1-5:ramp,opt 30:1-2:ramp,opt ...]
    qsched bench qubo --instances DIR --ground OUT.ground.json --samplers sa,tabu,random \\
        --merge OUT.jsonl

Runs on a machine with a CUDA device and numpy, scipy and numba alone (no qiskit: the
saved instances carry everything the samples are judged by). For each instance it first
finds what brute force on the CPU cannot above 24 qubits, the lowest and highest energy
and the ground states, on the device (`GpuQaoaEngine.diagonal_bounds`,
`ground_states`), and writes them to ``OUT.ground.json`` for the peers' run; then
`qubo_bench.run` draws the QAOA rows with ``engine="gpu"`` in the report's own schema.
A plan entry ``QUBITS:DEPTHS:STRATEGIES`` sets, per width, the depths and angle
strategies that fit the time: the optimizer costs about 60 expectation values per
depth, each a state evolution of up to p layers.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from qsched.bench.qubo_instances import GROUND_TOLERANCE, Instance
from qsched.bench.qubo_runner import Settings, loaded, run
from qsched.solvers.gpu_engine import GpuQaoaEngine

SHOTS = 1000


def span(text: str) -> list[int]:
    low, _, high = text.partition("-")
    return list(range(int(low), int(high or low) + 1))


def with_ground_truth(instance: Instance) -> Instance:
    """``instance`` with its energy range and ground states, found on the device."""
    engine = GpuQaoaEngine(instance.qubo, single_precision=True)
    low, high = engine.diagonal_bounds()
    states = engine.ground_states(GROUND_TOLERANCE * max(high - low, 1.0))
    return dataclasses.replace(instance, ground_energy=low, max_energy=high, ground_states=states)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("instances", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--plan", nargs="+", default=["24-28:1-5:ramp,opt"])
    args = parser.parse_args()
    plan = {}
    for entry in args.plan:
        widths, depths, strategies = entry.split(":")
        for width in span(widths):
            plan[width] = (tuple(span(depths)), tuple(strategies.split(",")))
    ground: dict[str, dict] = {}
    for instance in loaded(args.instances):
        if instance.qubits not in plan:
            continue
        if not instance.ground_states.size:
            instance = with_ground_truth(instance)
        ground[instance.name] = {
            "ground_energy": instance.ground_energy,
            "max_energy": instance.max_energy,
            "ground_states": instance.ground_states.tolist(),
        }
        args.out.with_suffix(".ground.json").write_text(json.dumps(ground, indent=1))
        depths, strategies = plan[instance.qubits]
        settings = Settings(
            depths=depths,
            shots=SHOTS,
            seeds=(0,),
            x_mixer_qubits=0,
            engine="gpu",
            samplers=("qaoa",),
            strategies=strategies,
            command=" ".join(["python", *sys.argv]),
        )
        print(f"{instance.name}: depths {depths}, {strategies}", file=sys.stderr, flush=True)
        run([instance], settings, args.out)


if __name__ == "__main__":
    main()
