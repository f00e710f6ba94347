"""PNG figures of `qsched bench` records (matplotlib, headless).

- `convergence`: best-so-far objective against seconds, one panel per
  instance, one line per solver and seed;
- `metrics`: energy, makespan and utilization per solver, mean over
  instances of each run's value relative to the instance's best, with the
  spread over seeds as error bars (relative values, so instances of
  different sizes can share an axis);
- `gaps`: per solver, the mean gap to the published makespans (CPR, the best
  known) or to the best proven bound, with its spread and the worst run; a
  panel per size for the hcsp suite;
- `scale`: seconds to the first schedule, and to the end of the heuristics
  that finish by themselves, against the problem's size (log-log).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend is chosen first)
import numpy as np  # noqa: E402

from qsched.bench.report import solvers_in  # noqa: E402
from qsched.bench.runner import Record  # noqa: E402
from qsched.model.solver import gap  # noqa: E402


def convergence(records: list[Record], path: Path) -> Path:
    """Best-so-far objective over time per instance (log time axis)."""
    names = sorted({r.instance for r in records})
    columns = min(3, len(names))
    rows = math.ceil(len(names) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(5 * columns, 3.5 * rows), squeeze=False)
    colours = {solver: f"C{k}" for k, solver in enumerate(solvers_in(records))}
    for axis, name in zip(axes.flat, names, strict=False):  # the grid may have spare axes
        for record in (r for r in records if r.instance == name and r.trace):
            times = [max(point.elapsed, 1e-4) for point in record.trace] + [
                max(record.elapsed, 1e-4)
            ]
            values = [point.objective for point in record.trace] + [record.trace[-1].objective]
            axis.step(
                times,
                values,
                where="post",
                color=colours[record.solver],
                alpha=0.8,
                label=record.solver,
            )
        axis.set_xscale("log")
        axis.set_title(name, fontsize=9)
        axis.set_xlabel("seconds")
        axis.set_ylabel("objective")
    for axis in axes.flat[len(names) :]:
        axis.set_visible(False)
    handles = {line.get_label(): line for axis in axes.flat for line in axis.get_lines()}
    figure.legend(
        handles.values(), handles.keys(), loc="upper center", ncol=len(handles), fontsize=8
    )
    figure.tight_layout(rect=(0, 0, 1, 0.95))
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def metrics(records: list[Record], path: Path) -> Path:
    """Energy, makespan and utilization per solver relative to each instance's best, with spread
    over seeds."""
    solvers = solvers_in(records)
    figure, axes = plt.subplots(1, 3, figsize=(14, 4))
    for axis, (field, label, best) in zip(
        axes,
        (
            ("energy", "energy / best", min),
            ("makespan", "makespan / best", min),
            ("utilization", "utilization / best", max),
        ),
        strict=True,
    ):
        bests = {
            name: best(getattr(r, field) for r in records if r.instance == name)
            for name in {r.instance for r in records}
        }
        means, spreads = [], []
        for solver in solvers:
            ratios = [
                getattr(r, field) / bests[r.instance]
                for r in records
                if r.solver == solver and bests[r.instance]
            ]
            means.append(np.mean(ratios) if ratios else np.nan)
            spreads.append(np.std(ratios) if ratios else 0.0)
        axis.bar(
            solvers, means, yerr=spreads, color=[f"C{k}" for k in range(len(solvers))], capsize=3
        )
        axis.set_ylabel(label)
        axis.set_ylim(
            bottom=min(0.9, np.nanmin(means) - 0.05) if np.isfinite(np.nanmin(means)) else 0
        )
        axis.tick_params(axis="x", rotation=45, labelsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def gaps(
    records: list[Record],
    targets: dict[str, float],
    path: Path,
    label: str = "gap to best known %",
    panels: Mapping[str, list[Record]] | None = None,
) -> Path:
    """Per solver, the mean over runs of the objective's gap to ``targets`` (best known, CPR or
    proven bound, by instance), with the spread as error bars and the worst run marked; one
    panel per entry of ``panels`` (the hcsp suite's sizes), titled with its key, else one."""
    groups = dict(panels) if panels is not None else {"": records}
    solvers = solvers_in(records)
    width = max(5, 1.2 * len(solvers))
    figure, axes = plt.subplots(
        1, len(groups), figsize=(width * len(groups), 4), squeeze=False, sharey=True
    )
    for axis, (title, mine) in zip(axes.flat, groups.items(), strict=True):
        values = [
            [
                100 * gap(r.objective, targets[r.instance])
                for r in mine
                if r.solver == s and r.instance in targets
            ]
            for s in solvers
        ]
        axis.bar(
            solvers,
            [float(np.mean(v)) if v else np.nan for v in values],
            yerr=[np.std(v) if v else 0 for v in values],
            color=[f"C{k}" for k in range(len(solvers))],
            capsize=3,
        )
        axis.plot(
            solvers,
            [max(v) if v else np.nan for v in values],
            "k_",
            markersize=14,
            label="worst run",
        )
        axis.set_title(title, fontsize=9)
        axis.tick_params(axis="x", rotation=45, labelsize=8)
    axes.flat[0].set_ylabel(label)
    axes.flat[0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def scale(records: list[Record], path: Path) -> Path:
    """Time to the first schedule (solid) and, for runs that completed by themselves, to
    the end (dashed), against tasks x machines, log-log."""
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for k, solver in enumerate(solvers_in(records)):
        mine = sorted(
            (r for r in records if r.solver == solver and r.trace), key=lambda r: _cells(r)
        )
        cells = [_cells(r) for r in mine]
        axis.plot(
            cells, [max(r.trace[0].elapsed, 1e-4) for r in mine], "o-", color=f"C{k}", label=solver
        )
        done = [r for r in mine if r.stop_reason == "completed"]
        if done:
            axis.plot([_cells(r) for r in done], [r.elapsed for r in done], "s--", color=f"C{k}")
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("tasks x machines")
    axis.set_ylabel("seconds (solid: first schedule; dashed: completed)")
    axis.legend(fontsize=8, ncol=2)
    axis.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def _cells(record: Record) -> int:
    """Tasks x machines, read off the instance name (``gen-10000x256-s1``)."""
    tasks, machines = re.search(r"(\d+)x(\d+)", record.instance).groups()  # type: ignore[union-attr]
    return int(tasks) * int(machines)
