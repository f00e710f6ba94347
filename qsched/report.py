"""Human-readable tables of solve results, for the CLI and the demo."""

from __future__ import annotations

from collections.abc import Sequence

from google.rpc import code_pb2

from qsched.solver import optimality_gap
from qsched.v1 import scheduler_pb2

COLUMNS = (
    "solver", "objective", "energy kJ", "makespan s", "util %", "feasible", "late", "peak W",
    "evals", "time s", "t@1% s", "gap %", "stop",
)


def time_to_within(response: scheduler_pb2.SolveResponse, fraction: float = 0.01) -> float:
    """Seconds until the solver's best was within ``fraction`` of its final objective
    (and as feasible as its final schedule)."""
    final = response.schedule.metrics
    for point in response.convergence:
        if point.feasible == final.feasible and point.objective <= final.objective + fraction * abs(final.objective):
            return point.elapsed_seconds
    return response.elapsed_seconds


def best_bound(responses: Sequence[scheduler_pb2.SolveResponse]) -> float | None:
    """The highest proven lower bound among the results (exact solvers report fact "bound")."""
    bounds = [r.facts["bound"] for r in responses if "bound" in r.facts]
    return max(bounds) if bounds else None


def _failure(response: scheduler_pb2.SolveResponse) -> str:
    """Why a Compare entry has no schedule, e.g. ``INTERNAL: qaoa-reference failed: ...``."""
    return f"{code_pb2.Code.Name(response.error.code)}: {response.error.message}"


def _row(response: scheduler_pb2.SolveResponse, bound: float | None) -> tuple[str, ...]:
    if response.HasField("error"):
        metrics_cells = ("-",) * (COLUMNS.index("time s") - 1)
        return (response.solver, *metrics_cells, f"{response.elapsed_seconds:.2f}", "-", "", "FAILED")
    metrics = response.schedule.metrics
    gap = f"{100 * optimality_gap(metrics.objective, bound):.2f}" if bound is not None and metrics.feasible else ""
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
        f"{time_to_within(response):.2f}",
        gap,
        stop,
    )


def results_table(responses: Sequence[scheduler_pb2.SolveResponse]) -> str:
    """One row per result, columns aligned, then a line per failed solver saying why.
    ``gap %`` is a feasible result's `optimality_gap` to the best bound among
    the results; ``t@1% s`` the time it took to get within 1% of its final objective."""
    bound = best_bound(responses)
    rows = [COLUMNS, *(_row(r, bound) for r in responses)]
    widths = [max(len(row[k]) for row in rows) for k in range(len(COLUMNS))]

    def line(row: Sequence[str]) -> str:
        cells = [cell.ljust(width) if k == 0 else cell.rjust(width) for k, (cell, width) in enumerate(zip(row, widths))]
        return "  ".join(cells).rstrip()

    failures = [f"{r.solver} FAILED: {_failure(r)}" for r in responses if r.HasField("error")]
    return "\n".join([line(rows[0]), line(["-" * w for w in widths]), *(line(row) for row in rows[1:]), *failures])


def schedule_summary(response: scheduler_pb2.SolveResponse) -> str:
    """Per machine: level, task count, busy time and energy."""
    lines = ["machine       level  tasks   busy s   util %   energy kJ"]
    for plan in response.schedule.machines:
        lines.append(
            f"{plan.machine_id:<12}  {plan.dvfs_level:>5}  {len(plan.tasks):>5}  {plan.busy_seconds:>7.1f}"
            f"  {100 * plan.utilization:>7.1f}  {plan.energy_joules / 1e3:>10.1f}"
        )
    return "\n".join(lines)
