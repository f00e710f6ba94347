"""Human-readable tables of solve results, for the CLI and the demo."""

from __future__ import annotations

from collections.abc import Sequence

from qsched.v1 import scheduler_pb2

COLUMNS = ("solver", "objective", "energy kJ", "makespan s", "util %", "feasible", "late", "peak W", "evals", "time s", "stop")


def _row(response: scheduler_pb2.SolveResponse) -> tuple[str, ...]:
    metrics = response.schedule.metrics
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
        stop,
    )


def results_table(responses: Sequence[scheduler_pb2.SolveResponse]) -> str:
    """One row per result, columns aligned; numbers right-aligned."""
    rows = [COLUMNS, *(_row(r) for r in responses)]
    widths = [max(len(row[k]) for row in rows) for k in range(len(COLUMNS))]

    def line(row: Sequence[str]) -> str:
        cells = [cell.ljust(width) if k == 0 else cell.rjust(width) for k, (cell, width) in enumerate(zip(row, widths))]
        return "  ".join(cells).rstrip()

    return "\n".join([line(rows[0]), line(["-" * w for w in widths]), *(line(row) for row in rows[1:])])


def schedule_summary(response: scheduler_pb2.SolveResponse) -> str:
    """Per machine: level, task count, busy time and energy."""
    lines = ["machine       level  tasks   busy s   util %   energy kJ"]
    for plan in response.schedule.machines:
        lines.append(
            f"{plan.machine_id:<12}  {plan.dvfs_level:>5}  {len(plan.tasks):>5}  {plan.busy_seconds:>7.1f}"
            f"  {100 * plan.utilization:>7.1f}  {plan.energy_joules / 1e3:>10.1f}"
        )
    return "\n".join(lines)
