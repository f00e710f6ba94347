"""Baselines on the 12 Braun et al. instances at a fixed wall budget, side by side.

    python benchmarks/hcsp_baselines.py --seconds 30 --out benchmarks/results/hcsp-30s.jsonl

Runs every solver on every instance (one process per run, ``--jobs`` at a
time, one core each), appends one JSON record per run to ``--out`` (runs
already there are skipped, so an interrupted benchmark resumes), and prints
a Markdown table of makespans with the gap to the best known solutions.
Every makespan is the shared evaluator's, re-checked here from the stored
assignment.
"""

from __future__ import annotations

import argparse
import json
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from qsched import hcsp, io, registry
from qsched.evaluate import evaluate
from qsched.solver import Budget

DATA = Path(__file__).resolve().parent.parent / "datasets" / "hcsp" / "512x16"
SOLVERS = ("min-min", "local-search", "ga", "pso", "aco", "milp")


def run(instance: str, solver: str, seconds: float, seed: int) -> dict:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    problem = io.read_problem(DATA / instance)
    result = registry.solve(problem, solver, Budget(wall_seconds=seconds), seed=seed)
    return {
        "instance": instance,
        "solver": solver,
        "seed": seed,
        "wall_seconds": seconds,
        "makespan": result.evaluation.makespan,
        "feasible": result.evaluation.feasible,
        "evaluations": result.evaluations,
        "elapsed": result.elapsed,
        "facts": result.facts,
        "trace": [[p.elapsed, p.evaluations, p.objective] for p in result.trace],
        "assignment": result.evaluation.assignment.tolist(),
    }


def best_known() -> dict[str, float]:
    """Makespan of the best solution file per instance, as the evaluator computes it."""
    best: dict[str, float] = {}
    for solution in hcsp.solution_files(DATA):
        value = evaluate(io.read_problem(DATA / solution.instance), hcsp.read_solution(solution.path)).makespan
        best[solution.instance] = min(value, best.get(solution.instance, value))
    return best


def table(records: list[dict], solvers: tuple[str, ...]) -> str:
    best = best_known()
    by_key = {(r["instance"], r["solver"]): r for r in records}
    header = ["instance", *solvers, "best known", *(f"{s} gap" for s in solvers if s != "min-min")]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    gaps: dict[str, list[float]] = {s: [] for s in solvers}
    for instance in sorted(best):
        values = [by_key[(instance, s)]["makespan"] if (instance, s) in by_key else float("nan") for s in solvers]
        for solver, value in zip(solvers, values):
            gaps[solver].append(100 * (value / best[instance] - 1))
        cells = [f"{v:.1f}" for v in values] + [f"{best[instance]:.1f}"]
        cells += [f"{100 * (v / best[instance] - 1):.2f}%" for s, v in zip(solvers, values) if s != "min-min"]
        lines.append(f"| {instance} | " + " | ".join(cells) + " |")
    means = ["mean gap", *("" for _ in solvers), "", *(f"{np.nanmean(gaps[s]):.2f}%" for s in solvers if s != "min-min")]
    lines.append("| " + " | ".join(means) + " |")
    lines.append(f"\nMin-min mean gap: {np.nanmean(gaps.get('min-min', [np.nan])):.2f}%")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--solvers", default=",".join(SOLVERS))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/hcsp-baselines.jsonl"))
    args = parser.parse_args()
    solvers = tuple(args.solvers.split(","))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    records = [json.loads(line) for line in args.out.read_text().splitlines()] if args.out.exists() else []
    done = {(r["instance"], r["solver"], r["seed"], r["wall_seconds"]) for r in records}
    instances = sorted(p.name for p in DATA.iterdir() if hcsp.is_etc_file(p))
    todo = [(i, s) for i in instances for s in solvers if (i, s, args.seed, args.seconds) not in done]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool, open(args.out, "a") as out:
        futures = [pool.submit(run, i, s, args.seconds, args.seed) for i, s in todo]
        for future in futures:
            record = future.result()
            problem = io.read_problem(DATA / record["instance"])
            assert abs(evaluate(problem, np.array(record["assignment"])).makespan - record["makespan"]) < 1e-6
            out.write(json.dumps(record) + "\n")
            out.flush()
            records.append(record)
            print(f"{record['instance']:<11} {record['solver']:<8} {record['makespan']:.1f}", flush=True)
    current = [r for r in records if r["seed"] == args.seed and r["wall_seconds"] == args.seconds]
    print(table(current, solvers))


if __name__ == "__main__":
    main()
