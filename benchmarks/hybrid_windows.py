"""The hybrid's windows per second at 512 x 16 and 1,024 x 32, its ablation, and stop latency.

    python benchmarks/hybrid_windows.py --seconds 8 \\
        --out benchmarks/results/hybrid-windows.jsonl --report benchmarks/results/hybrid-windows.md

The recorded report was first made with ``--baseline c5d8538`` (the windows
before they cost O(window); that side-by-side is in this file's history,
e.g. at cf48aa8). c5d8538 no longer imports here: its generated protobuf
code needs protobuf 7's runtime, and the project now pins protobuf 6 (for
OR-Tools), so the report is now made without a baseline.

Instances: Braun-style ETC matrices (`qsched.formats.hcsp.braun_etc`, inconsistent,
high task and machine heterogeneity, seed 0) as makespan-only problems.
Every measurement runs in a fresh process on one core (``NUMBA_NUM_THREADS=1``,
as the HCSP benchmarks run one core per run; on a shared machine the QAOA
engine's two-thread kernels otherwise slow down many times over whenever
another process takes a core), one at a time, with a warm-up
solve first (so loading the compiled kernels is not counted); the code
under test is this checkout, and, with ``--baseline REV``, that revision of
this repository too (exported with ``git archive`` into ``--baseline-dir``,
the package laid out as it installs), measured alternately with this one in
the same run, so machine load falls on both alike. It reports:

- windows per second (windows tried / seconds in the window stage) for
  every sub-solver, before and after (where the baseline has it), side by
  side, and the 1,024 x 32 to 512 x 16 ratio;
- the ablation: objective, windows, acceptance rate and windows whose
  sub-solver offered nothing but the incumbent's assignment, of ``qaoa``,
  its classical peers ``sa`` and ``tabu``, ``exhaustive``, ``random`` and
  ``mixed`` (all of them in turn in one run) at the same wall budget and
  seed;
- windows per sub-solver: each run's windows tried and accepted per
  sub-solver (the hybrid's ``sub_solvers`` fact), with the objective
  improvement their accepted windows brought; for ``mixed``, the
  sub-solvers side by side on one schedule;
- stop latency: seconds from setting "stop" to the solver's return, for the
  hybrid (stop set in its window stage) and the MILP (stop set while HiGHS
  solves, 512 x 16), with the stop reason and whether the answer is a full
  feasible schedule.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from qsched.solvers.samplers import NAMES

ROOT = Path(__file__).resolve().parent.parent
SIZES = ((512, 16), (1024, 32))
#: Every sampler the hybrid's windows take, then all of them in turn.
SUB_SOLVERS = (*NAMES, "mixed")
#: The sub-solvers the baseline revision (c5d8538) already had.
BASELINE_SUB_SOLVERS = ("qaoa", "exhaustive")
#: Directories installed as subpackages of qsched (pyproject.toml's package-dir).
SUBPACKAGES = ("solvers", "baselines", "service")


def braun(tasks: int, machines: int):
    from qsched.formats import hcsp
    from qsched.model.problem import Problem

    etc = hcsp.braun_etc(tasks, machines, 0)
    return Problem.from_message(hcsp.etc_problem(etc, f"braun-{tasks}x{machines}"))


def measure_windows(job: dict[str, Any]) -> dict[str, Any]:
    """One hybrid solve on a wall budget: its windows, acceptance and objective."""
    from qsched.model import registry
    from qsched.model.solver import Budget

    registry.solve(braun(64, 4), "hybrid", Budget(wall_seconds=1.0), 0, None, job["options"])
    problem = braun(job["tasks"], job["machines"])
    result = registry.solve(
        problem, "hybrid", Budget(wall_seconds=job["seconds"]), 0, None, job["options"]
    )
    seconds = result.stage_seconds.get("window", 0.0)
    windows = result.facts["windows"]
    return {
        "windows": windows,
        "window_seconds": seconds,
        "windows_per_second": windows / seconds if seconds else 0.0,
        "accepted_windows": result.facts["accepted_windows"],
        "acceptance_rate": result.facts["accepted_windows"] / windows if windows else 0.0,
        "windows_without_candidates": result.facts.get("windows_without_candidates"),
        "sub_solvers": result.facts.get("sub_solvers", {}),
        "objective": result.evaluation.objective,
        "start_objective": result.trace[0].objective,
    }


def measure_stop(job: dict[str, Any]) -> dict[str, Any]:
    """Seconds from setting stop (``after`` seconds into the solve) to the solver's return."""
    from qsched.model import registry
    from qsched.model.solver import Budget

    registry.get(job["solver"])
    problem = braun(job["tasks"], job["machines"])
    stop = threading.Event()
    stopped_at: list[float] = []

    def set_stop() -> None:
        time.sleep(job["after"])
        stopped_at.append(time.perf_counter())
        stop.set()

    threading.Thread(target=set_stop, daemon=True).start()
    budget = Budget(wall_seconds=job["budget"], stop=stop)
    result = registry.solve(problem, job["solver"], budget, 0, None, job["options"])
    returned = time.perf_counter()
    return {
        "latency": returned - stopped_at[0] if stopped_at else None,
        "elapsed": result.elapsed,
        "stop_reason": result.stop_reason.value,
        "status": result.facts.get("status"),
        "full_and_feasible": bool(
            result.evaluation.feasible and result.evaluation.assignment.size == problem.num_tasks
        ),
    }


def worker(job: dict[str, Any]) -> None:
    measure = measure_stop if job["kind"] == "stop" else measure_windows
    print(json.dumps({**job, **measure(job), "load": os.getloadavg()[0]}))


def baseline_tree(revision: str, directory: Path) -> Path:
    """``revision`` exported and laid out as installed (qsched/ with its subpackages inside);
    kept between runs, so its compiled kernels are cached."""
    tree = directory / revision
    package = tree / "importable"
    if not package.exists():
        source = tree / "source"
        source.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", revision], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
        shutil.copytree(source / "qsched", package / "qsched")
        for name in SUBPACKAGES:
            shutil.copytree(source / name, package / "qsched" / name)
    return package


def run_job(job: dict[str, Any], tree: Path | None) -> dict[str, Any]:
    environment = {**os.environ, "NUMBA_NUM_THREADS": "1"}
    if tree is not None:
        environment["PYTHONPATH"] = str(tree)
    finished = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(job)],
        check=True,
        capture_output=True,
        text=True,
        env=environment,
        cwd=tempfile.gettempdir() if tree is not None else ROOT,
    )
    return dict(json.loads(finished.stdout.strip().splitlines()[-1]))


def jobs(seconds: float) -> list[dict[str, Any]]:
    """Windows jobs (in both revisions where the option exists), then stop jobs: the hybrid
    stopped in its window stage, the MILP while HiGHS solves."""
    windows = [
        {"kind": "windows", "tasks": tasks, "machines": machines, "seconds": seconds,
         "options": {"sub_solver": sub_solver},
         "baseline": sub_solver in BASELINE_SUB_SOLVERS}
        for tasks, machines in SIZES
        for sub_solver in SUB_SOLVERS
    ]  # fmt: skip
    stops = [
        {"kind": "stop", "solver": "hybrid", "tasks": tasks, "machines": machines,
         "after": 3.0, "budget": 30.0}
        for tasks, machines in SIZES
    ]  # fmt: skip
    stops.append(
        {"kind": "stop", "solver": "milp", "tasks": 512, "machines": 16, "after": 8.0,
         "budget": 20.0}
    )  # fmt: skip
    return windows + [{**stop, "options": {}, "baseline": True} for stop in stops]


def find(records: list[dict[str, Any]], revision: str, **match: Any) -> dict[str, Any] | None:
    """The first record of ``revision`` whose fields equal ``match``."""
    for record in records:
        if record["revision"] == revision and all(record.get(k) == v for k, v in match.items()):
            return record
    return None


def windows_record(
    records: list[dict[str, Any]], revision: str, size: tuple[int, int], sub_solver: str
) -> dict[str, Any] | None:
    tasks, machines = size
    options = {"sub_solver": sub_solver}
    return find(records, revision, kind="windows", tasks=tasks, machines=machines, options=options)


def table(header: list[str], rows: list[list[str]], text_columns: int = 1) -> list[str]:
    """A Markdown table, the first ``text_columns`` left-aligned and the numbers right."""
    rule = ["---"] * text_columns + ["---:"] * (len(header) - text_columns)
    return [f"| {' | '.join(row)} |" for row in [header, rule, *rows]]


def rates_table(records: list[dict[str, Any]], revisions: list[str]) -> list[str]:
    """Windows per second per revision and size, and the large-to-small ratio."""
    header = ["sub_solver", *(f"{r} {t}x{m}" for r in revisions for t, m in SIZES)]
    header += [f"{r} {SIZES[1][0]}/{SIZES[0][0]}" for r in revisions]
    rows = []
    for sub_solver in SUB_SOLVERS:
        rates = [
            [windows_record(records, r, size, sub_solver) for size in SIZES] for r in revisions
        ]
        cells = [f"{c['windows_per_second']:.1f}" if c else "-" for row in rates for c in row]
        cells += [
            f"{large['windows_per_second'] / small['windows_per_second']:.2f}"
            if small and large and small["windows_per_second"]
            else "-"
            for small, large in rates
        ]
        rows.append([sub_solver, *cells])
    return table(header, rows)


def ablation_table(records: list[dict[str, Any]]) -> list[str]:
    """This checkout's sub-solvers at the same budget and seed."""
    header = ["instance", "sub_solver", "objective", "vs start", "windows", "accepted"]
    header += ["acceptance", "no candidate"]
    rows = []
    for size in SIZES:
        for sub_solver in SUB_SOLVERS:
            record = windows_record(records, "this", size, sub_solver)
            if record:
                change = record["objective"] / record["start_objective"] - 1
                rows.append(
                    [f"{size[0]}x{size[1]}", sub_solver, f"{record['objective']:.1f}",
                     f"{100 * change:+.2f} %", str(record["windows"]),
                     str(record["accepted_windows"]), f"{100 * record['acceptance_rate']:.2f} %",
                     str(record["windows_without_candidates"])]
                )  # fmt: skip
    return table(header, rows, text_columns=2)


def sub_solver_table(records: list[dict[str, Any]]) -> list[str]:
    """This checkout's windows per sub-solver, run by run (a mixed run has a row for each)."""
    header = ["instance", "run", "sub-solver", "windows", "accepted", "acceptance"]
    header += ["improvement"]
    rows = []
    for size in SIZES:
        for sub_solver in SUB_SOLVERS:
            record = windows_record(records, "this", size, sub_solver)
            for name, counts in (record or {}).get("sub_solvers", {}).items():
                rows.append(
                    [f"{size[0]}x{size[1]}", sub_solver, name, str(counts["windows"]),
                     str(counts["accepted"]), f"{100 * counts['acceptance_rate']:.2f} %",
                     f"{counts['improvement']:.1f}"]
                )  # fmt: skip
    return table(header, rows, text_columns=3)


def stop_table(records: list[dict[str, Any]]) -> list[str]:
    header = ["solver", "instance", "revision", "stop reason", "status", "full and feasible"]
    header += ["stop after s", "latency s"]
    rows = [
        [record["solver"], f"{record['tasks']}x{record['machines']}", record["revision"],
         record["stop_reason"], record["status"] or "", str(record["full_and_feasible"]),
         str(record["after"]), f"{record['latency']:.2f}"]
        for record in records
        if record["kind"] == "stop"
    ]  # fmt: skip
    return table(header, rows, text_columns=6)


def report(records: list[dict[str, Any]], baseline: str | None) -> str:
    revisions = [r for r in (baseline, "this") if r]
    loads = [record["load"] for record in records]
    lines = [
        "## Windows per second (window stage), side by side",
        "",
        *rates_table(records, revisions),
        "",
        "## Ablation (this checkout, same seed and wall budget)",
        "",
        *ablation_table(records),
        "",
        "## Windows per sub-solver (this checkout)",
        "",
        *sub_solver_table(records),
        "",
        "## Stop latency (seconds from stop to return)",
        "",
        *stop_table(records),
        "",
        f"Load average (1 min) during the runs: {min(loads):.2f} to {max(loads):.2f}.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--baseline", help="a revision to measure side by side with this checkout")
    parser.add_argument(
        "--baseline-dir", type=Path, default=Path(tempfile.gettempdir()) / "qsched-baselines"
    )
    parser.add_argument("--seconds", type=float, default=8.0, help="wall budget per windows run")
    parser.add_argument("--out", type=Path, help="append the records here (JSON lines)")
    parser.add_argument("--report", type=Path, help="write the Markdown report here")
    args = parser.parse_args()
    if args.worker:
        worker(json.loads(args.worker))
        return
    tree = baseline_tree(args.baseline, args.baseline_dir) if args.baseline else None
    records = []
    for job in jobs(args.seconds):
        runs = [(args.baseline, tree)] if tree is not None and job["baseline"] else []
        for revision, where in [*runs, ("this", None)]:
            record = {**run_job(job, where), "revision": revision}
            print(json.dumps(record), file=sys.stderr)
            records.append(record)
    text = report(records, args.baseline)
    print(text)
    if args.out:
        with args.out.open("a") as out:
            out.writelines(json.dumps(record) + "\n" for record in records)
    if args.report:
        args.report.write_text(text)


if __name__ == "__main__":
    main()
