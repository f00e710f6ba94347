"""Human-readable tables of solve results, for the CLI and the demo."""

from __future__ import annotations

import json
from collections.abc import Sequence

from google.rpc import code_pb2

from qsched.formats.messages import option_spec, trace_points
from qsched.model.solver import gap, time_to_within
from qsched.v1 import scheduler_pb2

COLUMNS = (
    "solver",
    "objective",
    "energy kJ",
    "makespan s",
    "util %",
    "feasible",
    "late",
    "peak W",
    "evals",
    "time s",
    "t@1% s",
    "gap %",
    "stop",
)


def best_bound(responses: Sequence[scheduler_pb2.SolveResponse]) -> float | None:
    """The highest proven lower bound on the objective among the results."""
    bounds = [r.bound for r in responses if r.HasField("bound")]
    return max(bounds) if bounds else None


def _failure(response: scheduler_pb2.SolveResponse) -> str:
    """Why a Compare entry has no schedule, e.g. ``INTERNAL: qaoa-reference failed: ...``."""
    return f"{code_pb2.Code.Name(response.error.code)}: {response.error.message}"


def _row(response: scheduler_pb2.SolveResponse, bound: float | None) -> tuple[str, ...]:
    if response.HasField("error"):
        metrics_cells = ("-",) * (COLUMNS.index("time s") - 1)
        return (
            response.solver,
            *metrics_cells,
            f"{response.elapsed_seconds:.2f}",
            "-",
            "",
            "FAILED",
        )
    metrics = response.schedule.metrics
    gap_to_bound = (
        f"{100 * gap(metrics.objective, bound):.2f}"
        if bound is not None and metrics.feasible
        else ""
    )
    stop = scheduler_pb2.StopReason.Name(response.stop_reason).removeprefix("STOP_REASON_").lower()
    return (
        response.solver,
        f"{metrics.objective:.6g}",
        f"{metrics.energy_joules / 1e3:.1f}",
        f"{metrics.makespan_seconds:.1f}",
        f"{100 * metrics.utilization:.1f}",
        "yes" if metrics.feasible else "NO",
        str(metrics.deadline_misses),
        f"{metrics.peak_power_watts:.0f}",
        str(response.evaluations),
        f"{response.elapsed_seconds:.2f}",
        f"{time_to_within(trace_points(response)):.2f}",
        gap_to_bound,
        stop,
    )


def results_table(responses: Sequence[scheduler_pb2.SolveResponse]) -> str:
    """One row per result, columns aligned, then a line per failed solver saying why.
    ``gap %`` is a feasible result's `gap` to the best bound among the results;
    ``t@1% s`` its `time_to_within` 1 % of its final objective."""
    bound = best_bound(responses)
    rows = [COLUMNS, *(_row(r, bound) for r in responses)]
    widths = [max(len(row[k]) for row in rows) for k in range(len(COLUMNS))]

    def line(row: Sequence[str]) -> str:
        cells = [
            cell.ljust(width) if k == 0 else cell.rjust(width)
            for k, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    failures = [f"{r.solver} FAILED: {_failure(r)}" for r in responses if r.HasField("error")]
    return "\n".join(
        [
            line(rows[0]),
            line(["-" * w for w in widths]),
            *(line(row) for row in rows[1:]),
            *failures,
        ]
    )


def _kind(info: scheduler_pb2.SolverInfo) -> str:
    return scheduler_pb2.SolverKind.Name(info.kind).removeprefix("SOLVER_KIND_").lower()


def solvers_table(infos: Sequence[scheduler_pb2.SolverInfo]) -> str:
    """One line per solver: name, kind, description, and the backends it takes."""
    width = max(len(info.name) for info in infos)
    lines = []
    for info in infos:
        lines.append(f"{info.name:<{width}}  {_kind(info):<13}  {info.description}")
        if info.backends:
            lines.append(f"{'':<{width}}  {'':<13}  backends: {', '.join(info.backends)}")
    return "\n".join(lines)


def solver_details(info: scheduler_pb2.SolverInfo) -> str:
    """A solver's description, then its options: name, type, default, allowed values, what it
    does."""
    lines = [f"{info.name} ({_kind(info)}): {info.description}"]
    if info.backends:
        lines.append(f"backends: {', '.join(info.backends)}")
    if not info.options:
        return "\n".join([*lines, "options: none"])
    rows = [("option", "type", "default", "allowed", "description")]
    for spec in map(option_spec, info.options):
        rows.append((spec.name, spec.type_name, json.dumps(spec.default), spec.allowed, spec.doc))
    widths = [max(len(row[k]) for row in rows) for k in range(4)]
    lines.append("")
    for row in rows:
        padded = (cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True))
        lines.append("  ".join([*padded, row[4]]))
    return "\n".join(lines)


def schedule_summary(response: scheduler_pb2.SolveResponse) -> str:
    """Per machine: level, task count, busy time and energy."""
    lines = ["machine       level  tasks   busy s   util %   energy kJ"]
    for plan in response.schedule.machines:
        lines.append(
            f"{plan.machine_id:<12}  {plan.dvfs_level:>5}  {len(plan.tasks):>5}  "
            f"{plan.busy_seconds:>7.1f}  {100 * plan.utilization:>7.1f}  "
            f"{plan.energy_joules / 1e3:>10.1f}"
        )
    return "\n".join(lines)
