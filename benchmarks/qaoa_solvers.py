"""`qaoa` against the stock qiskit stack (`qaoa-reference`) on small generated instances.

    python benchmarks/qaoa_solvers.py --out benchmarks/results/qaoa-solvers.jsonl \
        --report benchmarks/results/qaoa-solvers.md

For each generated instance (``--shapes``, ``--seeds``) whose QUBO fits the
qubit budget, runs in this one process, one after another: `qaoa` (engine
backend, default options), `qaoa-reference` (Aer, COBYLA ``--maxiter``) and
the exhaustive search (the exact optimum). Appends one JSON record per
instance to ``--out`` and prints a Markdown table: wall time and objective
of both, their gap to the optimum, feasibility, and the time ratio; also the
time of `qaoa`'s QAOA stage alone (angle optimization and sampling), which
is what the reference does. Objectives are the shared evaluator's.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from qsched.formats.generate import generate
from qsched.model import registry
from qsched.model.problem import Problem, ProblemError
from qsched.model.solver import Budget, gap

SHAPES = ("3x2", "4x2", "5x2", "3x3", "6x2")


def run(problem: Problem, solver: str, options: dict) -> tuple[dict, float]:
    started = time.perf_counter()
    result = registry.solve(problem, solver, Budget(), seed=0, options=options)
    seconds = time.perf_counter() - started
    evaluation = result.evaluation
    record = {
        "objective": evaluation.objective,
        "feasible": evaluation.feasible,
        "seconds": seconds,
        "stage_seconds": result.stage_seconds,
    }
    record["facts"] = {
        k: v for k, v in result.facts.items() if isinstance(v, (int, float, str, bool))
    }
    return record, seconds


def benchmark(name: str, problem: Problem, maxiter: int) -> dict | None:
    try:
        registry.get("qaoa").check(problem, {})
        registry.get("qaoa-reference").check(problem, {})
    except ProblemError:
        return None
    ours, _ = run(problem, "qaoa", {})
    reference, _ = run(problem, "qaoa-reference", {"maxiter": maxiter})
    optimum, _ = run(problem, "exhaustive", {})
    return {
        "instance": name,
        "qubits": ours["facts"]["qubits"],
        "qaoa": ours,
        "reference": reference,
        "optimum": optimum,
    }


def gap_percent(record: dict, optimum: float) -> str:
    return f"{100 * gap(record['objective'], optimum):.2f}"


HEADER = (
    "instance", "qubits", "optimum", "qaoa gap %", "feasible", "qaoa s", "(QAOA stage s)",
    "reference gap %", "feasible", "reference s", "reference / qaoa time",
)  # fmt: skip


def table(records: list[dict]) -> str:
    lines = [
        "| " + " | ".join(HEADER) + " |",
        "|---|---:|---:|---:|:-:|---:|---:|---:|:-:|---:|---:|",
    ]
    for r in records:
        best, ours, ref = r["optimum"]["objective"], r["qaoa"], r["reference"]
        cells = (
            r["instance"], str(r["qubits"]), f"{best:.4g}",
            gap_percent(ours, best), "yes" if ours["feasible"] else "NO",
            f"{ours['seconds']:.2f}", f"{ours['stage_seconds']['qaoa']:.2f}",
            gap_percent(ref, best), "yes" if ref["feasible"] else "NO",
            f"{ref['seconds']:.2f}", f"{ref['seconds'] / ours['seconds']:.2f}",
        )  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary(records: list[dict]) -> str:
    within = sum(gap(r["qaoa"]["objective"], r["optimum"]["objective"]) <= 0.01 for r in records)
    feasible = sum(r["qaoa"]["feasible"] for r in records)
    ref_feasible = sum(r["reference"]["feasible"] for r in records)
    better = sum(r["qaoa"]["objective"] <= r["reference"]["objective"] for r in records)
    qaoa_time = sum(r["qaoa"]["seconds"] for r in records)
    ref_time = sum(r["reference"]["seconds"] for r in records)
    stage_time = sum(r["qaoa"]["stage_seconds"]["qaoa"] for r in records)
    return (
        f"{len(records)} instances: qaoa feasible on {feasible}, "
        f"within 1% of the optimum on {within}, objective <= reference on {better}; "
        f"reference feasible on {ref_feasible}. Total time qaoa {qaoa_time:.1f} s "
        f"(QAOA stage {stage_time:.1f} s), reference {ref_time:.1f} s "
        f"(reference / qaoa {ref_time / qaoa_time:.2f}x, "
        f"reference / QAOA stage {ref_time / stage_time:.2f}x)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default=",".join(SHAPES), help="TASKSxMACHINES,...")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument(
        "--maxiter", type=int, default=100, help="COBYLA iterations of the reference"
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/qaoa-solvers.jsonl"))
    parser.add_argument(
        "--report", type=Path, help="also write the table and summary here (Markdown)"
    )
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("")
    records = []
    for shape in args.shapes.split(","):
        tasks, machines = (int(part) for part in shape.split("x"))
        for seed in args.seeds:
            message = generate(tasks, machines, seed)
            record = benchmark(message.name, Problem.from_message(message), args.maxiter)
            if record is None:
                print(f"{message.name}: beyond the qubit budget, skipped", flush=True)
                continue
            records.append(record)
            with args.out.open("a") as out:
                out.write(json.dumps(record) + "\n")
            seconds = {key: f"{record[key]['seconds']:.1f} s" for key in ("qaoa", "reference")}
            print(f"{message.name}: {record['qubits']} qubits, {seconds}", flush=True)
    text = f"{table(records)}\n\n{summary(records)}\n"
    print(f"\n{text}", end="")
    if args.report:
        args.report.write_text(text)


if __name__ == "__main__":
    main()
