"""Batch benchmarks (`qsched bench`): solvers x instances x seeds at one budget, resumable.

Suites:

- ``hcsp``: the 12 Braun et al. 512x16 instances in ``DATA/hcsp/512x16``
  (makespan objective), reported as the gap to the best known solutions;
- ``energy``: generated energy-aware instances (`ENERGY_INSTANCES`: DVFS,
  SPECpower curves, deadlines, power cap), reported as energy, makespan,
  utilization and time to within 1 % of the final value per solver, mean
  and spread over seeds, and the gap to the best proven bound where an
  exact solver gave one.

A solver is named as in the registry, or ``name@key=value+...`` to run it
with options under its own label (``hybrid@sub_solver=exhaustive``, the
hybrid's classical ablation).

Each run is one process of a local pool (``jobs`` at a time, one thread
each) or one task on a Ray cluster (``executor="ray"``), and appends one
JSON record to the output file as soon as it ends: the metrics, the
solver's facts, its convergence trace and the schedule. Runs already in the
file are not run again, so an interrupted benchmark resumes. The report
re-checks every record's objective with the shared evaluator, and
`qsched.plots` draws it.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from qsched import hcsp, io, registry
from qsched.evaluate import evaluate
from qsched.generate import generate
from qsched.problem import Problem
from qsched.solver import Budget

SUITES = ("hcsp", "energy")
#: The energy suite's generated instances: name -> (tasks, machines, generator seed).
ENERGY_INSTANCES = {f"gen-{t}x{m}-s{s}": (t, m, s) for t, m, s in ((40, 6, 1), (40, 6, 2), (60, 8, 1), (60, 8, 2), (80, 10, 1))}
HCSP_DIRECTORY = Path("hcsp") / "512x16"


@dataclass(frozen=True)
class Run:
    """One solver on one instance with one seed and budget."""

    suite: str
    instance: str
    solver: str
    seed: int
    wall_seconds: float | None
    budget_evaluations: int | None

    @property
    def key(self) -> tuple:
        return (self.instance, self.solver, self.seed, self.wall_seconds, self.budget_evaluations)


def record_key(record: dict) -> tuple:
    return (record["instance"], record["solver"], record["seed"], record.get("wall_seconds"), record.get("budget_evaluations"))


def instances(suite: str, data: Path) -> list[str]:
    if suite == "hcsp":
        return sorted(p.name for p in (data / HCSP_DIRECTORY).iterdir() if hcsp.is_etc_file(p))
    if suite == "energy":
        return list(ENERGY_INSTANCES)
    raise ValueError(f"unknown suite {suite!r}; known: {', '.join(SUITES)}")


def load(suite: str, instance: str, data: Path) -> Problem:
    if suite == "hcsp":
        return io.read_problem(data / HCSP_DIRECTORY / instance)
    return Problem.from_message(generate(*ENERGY_INSTANCES[instance]))


def solver_options(label: str) -> tuple[str, dict]:
    """``hybrid@sub_solver=exhaustive+shots=128`` -> ("hybrid", {"sub_solver": "exhaustive", "shots": 128}):
    a solver with options under its own label, e.g. an ablation next to the original
    (``+`` between options, as commas separate solvers on the command line)."""
    name, _, text = label.partition("@")
    options = {}
    for pair in filter(None, text.split("+")):
        key, _, value = pair.partition("=")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return name, options


def run(spec: Run, data: Path) -> dict:
    """Solve once and describe it as a JSON-ready record."""
    problem = load(spec.suite, spec.instance, data)
    budget = Budget(wall_seconds=spec.wall_seconds, evaluations=spec.budget_evaluations)
    name, options = solver_options(spec.solver)
    result = registry.solve(problem, name, budget, seed=spec.seed, options=options)
    evaluation = result.evaluation
    return {
        **asdict(spec),
        "objective": evaluation.objective,
        "energy": evaluation.energy,
        "makespan": evaluation.makespan,
        "utilization": evaluation.utilization,
        "feasible": evaluation.feasible,
        "evaluations": result.evaluations,
        "elapsed": result.elapsed,
        "stop_reason": result.stop_reason.value,
        "facts": {k: v for k, v in result.facts.items() if isinstance(v, (bool, int, float, str))},
        "trace": [[p.elapsed, p.evaluations, p.objective, p.feasible] for p in result.trace],
        "assignment": evaluation.assignment.tolist(),
        "levels": evaluation.levels.tolist(),
    }


def read_records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def bench(
    suite: str,
    solvers: Iterable[str],
    seeds: Iterable[int],
    out: Path,
    *,
    wall_seconds: float | None = None,
    evaluations: int | None = None,
    jobs: int = 1,
    data: Path = Path("datasets"),
    executor: str = "local",
    address: str | None = None,
    show_progress: bool | None = None,
) -> list[dict]:
    """Run what ``out`` does not hold yet and return all of this suite's records in it.

    ``executor``: ``local`` (a pool of ``jobs`` processes) or ``ray`` (a Ray
    cluster at ``address``, or a local Ray instance with ``jobs`` CPUs);
    both run the same `run` and write the same records.
    """
    for solver in solvers:
        registry.get(solver_options(solver)[0])  # unknown names fail before anything runs
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; known: {', '.join(EXECUTORS)}")
    done = {record_key(r) for r in read_records(out)}
    todo = [
        Run(suite, instance, solver, seed, wall_seconds, evaluations)
        for instance in instances(suite, data)
        for solver in solvers
        for seed in seeds
    ]
    todo = [spec for spec in todo if spec.key not in done]
    out.parent.mkdir(parents=True, exist_ok=True)
    results = _run_local(todo, data.resolve(), jobs) if executor == "local" else _run_ray(todo, data.resolve(), jobs, address)
    with out.open("a") as sink:
        for record in tqdm(results, total=len(todo), desc=f"bench {suite}", unit="run", disable=None if show_progress is None else not show_progress):
            sink.write(json.dumps(record) + "\n")
            sink.flush()
    return [r for r in read_records(out) if r.get("suite", "hcsp") == suite]


EXECUTORS = ("local", "ray")
#: Each run on one thread: runs share the cores, not each other's threads.
SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}


def _single_thread() -> None:
    """Process-pool initializer: runs before the worker imports the solvers (and so Numba)."""
    os.environ.update(SINGLE_THREAD)


def _run_local(todo: list[Run], data: Path, jobs: int) -> Iterator[dict]:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_single_thread) as pool:
        for future in as_completed([pool.submit(run, spec, data) for spec in todo]):
            yield future.result()


def _run_ray(todo: list[Run], data: Path, jobs: int, address: str | None) -> Iterator[dict]:
    """The same runs as Ray tasks (one CPU each); records come back as tasks finish.
    On a cluster, ``data`` must exist at the same path on every node (the hcsp suite reads files)."""
    import ray

    started_here = not ray.is_initialized()
    if started_here:
        ray.init(
            address=address,
            num_cpus=None if address else jobs,
            runtime_env={"env_vars": SINGLE_THREAD},
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    try:
        remote = ray.remote(num_cpus=1)(run)
        pending = [remote.remote(spec, data) for spec in todo]
        while pending:
            finished, pending = ray.wait(pending, num_returns=1)
            yield ray.get(finished[0])
    finally:
        if started_here:
            ray.shutdown()


def verify(records: list[dict], suite: str, data: Path) -> None:
    """Every record's objective is the shared evaluator's for its stored schedule."""
    for record in records:
        problem = load(suite, record["instance"], data)
        levels = record.get("levels")
        value = evaluate(problem, np.array(record["assignment"]), None if levels is None else np.array(levels))
        if not math.isclose(value.makespan, record["makespan"], rel_tol=1e-9):
            raise ValueError(f"{record['instance']} / {record['solver']}: stored makespan {record['makespan']} is not the evaluator's {value.makespan}")


def references(suite: str, records: list[dict], data: Path) -> tuple[dict[str, float], str]:
    """What gaps are measured against, per instance: the best known makespans (hcsp), or the
    best proven bound of any run (energy, only where an exact solver proved one)."""
    if suite == "hcsp":
        return hcsp.best_known_makespans(data / HCSP_DIRECTORY), "gap to best known %"
    bounds: dict[str, float] = {}
    for record in records:
        if "bound" in record["facts"]:
            bounds[record["instance"]] = max(record["facts"]["bound"], bounds.get(record["instance"], -math.inf))
    return bounds, "gap to proven bound %"


def time_to_within(trace: list[list], final: float, share: float = 0.01) -> float:
    """Seconds until the best-so-far objective was within ``share`` of ``final``."""
    for point in trace:
        if point[2] <= final + share * abs(final):
            return point[0]
    return trace[-1][0] if trace else 0.0


def report(suite: str, records: list[dict], data: Path = Path("datasets")) -> str:
    verify(records, suite, data)
    return hcsp_report(records, data) if suite == "hcsp" else energy_report(records)


def _solvers_in(records: list[dict]) -> list[str]:
    return list(dict.fromkeys(r["solver"] for r in records))


def hcsp_report(records: list[dict], data: Path) -> str:
    """Mean makespan over seeds per instance and solver, with the gap to the best known."""
    best, _ = references("hcsp", records, data)
    solvers = _solvers_in(records)
    header = ["instance", *solvers, "best known", *(f"{s} gap" for s in solvers)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    gaps: dict[str, list[float]] = {s: [] for s in solvers}
    for instance in sorted({r["instance"] for r in records}):
        means = [float(np.mean([r["makespan"] for r in records if r["instance"] == instance and r["solver"] == s] or [np.nan])) for s in solvers]
        for solver, value in zip(solvers, means):
            gaps[solver].append(100 * (value / best[instance] - 1))
        cells = [f"{v:.1f}" for v in means] + [f"{best[instance]:.1f}"] + [f"{100 * (v / best[instance] - 1):.2f}%" for v in means]
        lines.append(f"| {instance} | " + " | ".join(cells) + " |")
    lines.append("| **mean gap** | " + " | ".join([""] * (len(solvers) + 1) + [f"**{np.nanmean(gaps[s]):.2f}%**" for s in solvers]) + " |")
    return "\n".join(lines)


#: Whose figures the energy report states relative to the others (the seed paper's format).
SUBJECT = "hybrid"


def relative_summary(records: list[dict], subject: str = SUBJECT) -> str:
    """``subject`` against every other solver, run by run (same instance and seed): mean change
    in objective, energy, makespan and utilization, in percent of the other's value, and the
    ratio of the times to within 1 %."""
    mine = {(r["instance"], r["seed"]): r for r in records if r["solver"] == subject}
    if not mine:
        return ""
    lines = [
        f"| {subject} vs | objective % | energy % | makespan % | utilization % | t@1% ratio | runs |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for other in (s for s in _solvers_in(records) if s != subject):
        pairs = [(mine[(r["instance"], r["seed"])], r) for r in records if r["solver"] == other and (r["instance"], r["seed"]) in mine]
        if not pairs:
            continue

        def change(field: str) -> str:
            return f"{np.mean([100 * (a[field] - b[field]) / b[field] for a, b in pairs]):+.2f}"

        speed = np.mean([time_to_within(a["trace"], a["objective"]) / max(time_to_within(b["trace"], b["objective"]), 1e-3) for a, b in pairs])
        lines.append(f"| {other} | {change('objective')} | {change('energy')} | {change('makespan')} | {change('utilization')} | {speed:.2f} | {len(pairs)} |")
    return "\n".join(lines)


def energy_report(records: list[dict]) -> str:
    """Per instance and solver: mean (and standard deviation over seeds) of the objective, energy,
    makespan, utilization, time to within 1 %, feasible runs, and the gap to the best proven bound."""
    solvers = _solvers_in(records)
    lines = [
        "| instance | solver | objective | sd | energy kJ | makespan s | util % | t@1% s | feasible | gap to bound % |",
        "|---|---|---:|---:|---:|---:|---:|---:|:-:|---:|",
    ]
    for instance in sorted({r["instance"] for r in records}):
        runs = [r for r in records if r["instance"] == instance]
        bounds = [r["facts"]["bound"] for r in runs if "bound" in r["facts"]]
        bound = max(bounds) if bounds else None
        for solver in solvers:
            mine = [r for r in runs if r["solver"] == solver]
            if not mine:
                continue
            objective = np.array([r["objective"] for r in mine])
            reach = np.mean([time_to_within(r["trace"], r["objective"]) for r in mine])
            gap = f"{100 * (objective.mean() - bound) / objective.mean():.2f}" if bound is not None else ""
            lines.append(
                f"| {instance} | {solver} | {objective.mean():.6g} | {objective.std():.3g} | {np.mean([r['energy'] for r in mine]) / 1e3:.1f} "
                f"| {np.mean([r['makespan'] for r in mine]):.1f} | {100 * np.mean([r['utilization'] for r in mine]):.1f} | {reach:.2f} "
                f"| {sum(r['feasible'] for r in mine)}/{len(mine)} | {gap} |"
            )
    summary = relative_summary(records)
    return "\n".join(lines) + (f"\n\n{summary}" if summary else "")
