"""Reports of `qsched bench` records: every record checked by the evaluator, then Markdown tables.

- ``hcsp``: per size, each solver's mean and worst `gap` to Gogos et al.'s CPR
  makespans and to the best known; then per size, the mean makespan per
  instance and solver and its gap to CPR (`hcsp_report`);
- ``braun``: the mean makespan per instance and solver and its gap to the best
  bound proven (by a run or the LP relaxation);
- ``energy``: per instance and solver, mean and spread over seeds of the
  objective, energy, makespan, utilization and `time_to_within` 1 %, the
  feasible runs, and the gap to the best proven bound; then each of `SUBJECTS`
  against every other solver, run by run (`relative_summary`);
- ``scale``: per instance and solver, the time to the first schedule and to
  the end, evaluations per second, peak memory against the problem's own
  arrays, and the objective after `EARLY_SECONDS` and at the end, as gaps to
  the best final schedule of the instance.

Every report ends with "Hybrid windows per sub-solver" when any of its
records ran the hybrid's windows: windows tried and accepted per solver
label and sub-solver, so the quantum step's contribution is visible in
each run.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any

import numpy as np

from qsched.bench import hcsp_suite
from qsched.bench.runner import Record, load
from qsched.model.evaluate import evaluate
from qsched.model.solver import TracePoint, gap, time_to_within
from qsched.search import relaxation

#: Whose figures the energy report states relative to the others, run by run (the seed
#: paper's format): the hybrid from Min-min and from the MILP's incumbent.
SUBJECTS = ("hybrid", "hybrid@start=milp")
#: The scale report's early look at each run's best so far.
EARLY_SECONDS = 10.0
MEBIBYTE = 1 << 20
#: A hybrid run's counts per sub-solver that the windows report sums.
WINDOW_COUNTS = ("windows", "accepted", "without_candidates", "improvement")


def verify(records: list[Record], data: Path) -> None:
    """Every record's objective, energy and makespan are the shared evaluator's for its stored
    schedule."""
    for record in records:
        value = evaluate(
            load(record.suite, record.instance, data),
            np.array(record.assignment),
            np.array(record.levels),
        )
        for name, stored, evaluated in (
            ("objective", record.objective, value.objective),
            ("energy", record.energy, value.energy),
            ("makespan", record.makespan, value.makespan),
        ):
            if not math.isclose(stored, evaluated, rel_tol=1e-9, abs_tol=1e-9):
                where = f"{record.instance} / {record.solver}"
                raise ValueError(
                    f"{where}: stored {name} {stored} is not the evaluator's {evaluated}"
                )


def gap_targets(suite: str, records: list[Record], data: Path) -> tuple[dict[str, float], str]:
    """What gaps are measured against, per instance: Gogos et al.'s CPR makespans (hcsp, at
    the records' sizes), or the best proven bound of any run (only where a solver proved
    one) and, for the braun suite, of the LP relaxation; and its label."""
    if suite == "hcsp":
        return _references(records, data).cpr, "gap to CPR %"
    bounds = best_bounds(records)
    if suite == "braun":
        for instance in {record.instance for record in records}:
            lp = _lp_bound(suite, instance, data)
            if lp is not None:
                bounds[instance] = max(lp, bounds.get(instance, -math.inf))
    return bounds, "gap to proven bound %"


@functools.cache
def _lp_bound(suite: str, instance: str, data: Path) -> float | None:
    """The instance's LP bound, solved once per process: a report and its figures both ask."""
    return relaxation.lp_bound(load(suite, instance, data))


def best_bounds(records: list[Record]) -> dict[str, float]:
    """Per instance, the highest lower bound any of its runs proved (where one did)."""
    bounds: dict[str, float] = {}
    for record in records:
        if record.bound is not None:
            bounds[record.instance] = max(record.bound, bounds.get(record.instance, -math.inf))
    return bounds


def report(suite: str, records: list[Record], data: Path = Path("datasets")) -> str:
    verify(records, data)
    return render(suite, records, data)


def render(suite: str, records: list[Record], data: Path = Path("datasets")) -> str:
    """The suite's report of records already checked (`report` checks them first): its
    tables, and the hybrid's windows where any record ran them."""
    if suite == "hcsp":
        text = hcsp_report(records, data)
    elif suite == "braun":
        text = gap_report(suite, records, data)
    elif suite == "scale":
        text = scale_report(records)
    else:
        text = energy_report(records)
    windows = windows_report(records)
    return f"{text}\n\n{windows}" if windows else text


def windows_report(records: list[Record]) -> str:
    """ "Hybrid windows per sub-solver": per solver label that ran windows (the hybrid and its
    ablations) and sub-solver, summed over its runs: windows tried, accepted, the acceptance
    rate, windows whose sub-solver offered nothing but the incumbent's assignment, and the
    objective improvement its accepted windows brought; "" if no record ran windows. Records
    made before the facts were kept per sub-solver count under their one ``sub_solver``
    (improvement unknown)."""
    lines = []
    for solver in solvers_in(records):
        totals: dict[str, dict[str, float | None]] = {}
        runs: dict[str, int] = {}
        for record in (r for r in records if r.solver == solver and "windows" in r.facts):
            for name, counts in sub_solver_windows(record.facts).items():
                totals[name] = _summed(totals.get(name), counts)
                runs[name] = runs.get(name, 0) + 1
        lines += [_windows_row(solver, name, runs[name], total) for name, total in totals.items()]
    if not lines:
        return ""
    header = _markdown_row(
        "windows of",
        "sub-solver",
        "runs",
        "windows",
        "accepted",
        "acceptance %",
        "without candidates",
        "improvement",
    )
    return "\n".join(
        ["## Hybrid windows per sub-solver", "", header, "|---|---|---:|---:|---:|---:|---:|---:|"]
        + lines
    )


def sub_solver_windows(facts: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    """A hybrid run's windows per sub-solver: windows, accepted, without_candidates and
    improvement (None where the run did not record it)."""
    if "sub_solvers" in facts:
        return {
            name: {key: counts.get(key) for key in WINDOW_COUNTS}
            for name, counts in facts["sub_solvers"].items()
        }
    flat = {
        "windows": facts["windows"],
        "accepted": facts.get("accepted_windows", 0),
        "without_candidates": facts.get("windows_without_candidates", 0),
        "improvement": None,
    }
    return {facts.get("sub_solver", "qaoa"): flat}


def _summed(
    total: dict[str, float | None] | None, counts: dict[str, float | None]
) -> dict[str, float | None]:
    """``total`` plus ``counts``, key by key; None where either is unknown."""
    if total is None:
        return dict(counts)
    summed: dict[str, float | None] = {}
    for key, value in counts.items():
        before = total[key]
        summed[key] = None if value is None or before is None else before + value
    return summed


def _windows_row(solver: str, name: str, runs: int, total: dict[str, float | None]) -> str:
    windows, accepted = total["windows"] or 0, total["accepted"] or 0
    improvement = total["improvement"]
    return _markdown_row(
        solver,
        name,
        str(runs),
        f"{windows:.0f}",
        f"{accepted:.0f}",
        f"{100 * accepted / windows:.2f}" if windows else "",
        f"{total['without_candidates'] or 0:.0f}",
        "" if improvement is None else f"{improvement:.6g}",
    )


def _markdown_row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"


def solvers_in(records: list[Record]) -> list[str]:
    """The solver labels of the records, in the order they first appear."""
    return list(dict.fromkeys(record.solver for record in records))


def gap_report(suite: str, records: list[Record], data: Path) -> str:
    """Mean makespan over seeds per instance and solver, with the gap to the best proven
    bound (braun)."""
    best, _ = gap_targets(suite, records, data)
    return instance_table(records, {"best bound": best}, best)


def _references(records: list[Record], data: Path) -> hcsp_suite.References:
    return hcsp_suite.references(data, hcsp_suite.sizes_in([r.instance for r in records]))


def hcsp_panels(records: list[Record]) -> dict[str, list[Record]]:
    """The hcsp records by size, smallest first."""
    sizes = hcsp_suite.sizes_in([r.instance for r in records])
    return {size: [r for r in records if hcsp_suite.size_of(r.instance) == size] for size in sizes}


def hcsp_report(records: list[Record], data: Path) -> str:
    """Per size, each solver's mean and worst gap over instances to CPR and to the best known
    (`hcsp_summary`); then per size, the mean makespan per instance and solver, the
    published makespans, and each solver's gap to CPR."""
    references = _references(records, data)
    sections = [
        "## Gaps per size",
        "Each solver's mean makespan over seeds per instance, as a gap to Gogos et al.'s column "
        "pricing with restarts (CPR) and to the best known makespan (the smallest of any "
        "solution file next to the instances); mean and worst over the instances.",
        hcsp_summary(records, references),
    ]
    for size, mine in hcsp_panels(records).items():
        shown = {"CPR": references.cpr}
        if any(
            references.best_known.get(r.instance) != references.cpr.get(r.instance) for r in mine
        ):
            shown["best known"] = references.best_known
        sections += [
            f"## {size}: gap to CPR per instance",
            instance_table(mine, shown, references.cpr),
        ]
    return "\n\n".join(sections)


def hcsp_summary(records: list[Record], references: hcsp_suite.References) -> str:
    """Per size and solver: instances run, and the mean and worst gap to CPR and to the best
    known of the solver's mean makespan per instance."""
    lines = [
        _markdown_row(
            "size",
            "solver",
            "instances",
            "mean gap to CPR",
            "worst gap to CPR",
            "mean gap to best known",
            "worst gap to best known",
        ),
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for size, mine in hcsp_panels(records).items():
        instances = sorted({r.instance for r in mine})
        for solver in solvers_in(mine):
            means = {name: _mean_makespan(mine, name, solver) for name in instances}
            ran = [name for name, mean in means.items() if not math.isnan(mean)]
            cells = [
                _mean_and_worst(
                    [100 * gap(means[name], targets[name]) for name in ran if name in targets]
                )
                for targets in (references.cpr, references.best_known)
            ]
            lines.append(_markdown_row(size, solver, str(len(ran)), *cells[0], *cells[1]))
    return "\n".join(lines)


def _mean_and_worst(gaps: list[float]) -> tuple[str, str]:
    """The mean and the largest of ``gaps`` as percentages ("" for none)."""
    if not gaps:
        return "", ""
    return f"{np.mean(gaps):.2f}%", f"{max(gaps):.2f}%"


def instance_table(
    records: list[Record], shown: dict[str, dict[str, float]], targets: dict[str, float]
) -> str:
    """Mean makespan over seeds per instance and solver, the reference values ``shown`` (a
    column each), and each solver's gap to ``targets`` per instance with its mean."""
    solvers = solvers_in(records)
    header = ["instance", *solvers, *shown, *(f"{s} gap" for s in solvers)]
    lines = [_markdown_row(*header), "|" + "---|" * len(header)]
    gaps: dict[str, list[float]] = {s: [] for s in solvers}
    for instance in sorted({r.instance for r in records}):
        means = [_mean_makespan(records, instance, solver) for solver in solvers]
        target = targets.get(instance, math.nan)
        instance_gaps = [100 * gap(mean, target) for mean in means]
        for solver, value in zip(solvers, instance_gaps, strict=True):
            gaps[solver].append(value)
        values = [*means, *(column.get(instance, math.nan) for column in shown.values())]
        lines.append(
            _markdown_row(
                instance,
                *(f"{value:.1f}" for value in values),
                *(f"{value:.2f}%" for value in instance_gaps),
            )
        )
    mean_gaps = [f"**{_nan_mean(gaps[s]):.2f}%**" for s in solvers]
    lines.append(_markdown_row("**mean gap**", *[""] * (len(solvers) + len(shown)), *mean_gaps))
    return "\n".join(lines)


def _nan_mean(values: list[float]) -> float:
    """The mean of the values that are numbers (NaN where none is)."""
    numbers = [value for value in values if not math.isnan(value)]
    return float(np.mean(numbers)) if numbers else math.nan


def _mean_makespan(records: list[Record], instance: str, solver: str) -> float:
    """Mean over seeds; NaN where the solver has no run on the instance."""
    makespans = [r.makespan for r in records if r.instance == instance and r.solver == solver]
    return float(np.mean(makespans)) if makespans else float("nan")


def relative_summary(records: list[Record], subject: str) -> str:
    """``subject`` against every other solver, run by run (same instance and seed): mean change
    in objective, energy, makespan and utilization, in percent of the other's value, and the
    ratio of the times to within 1 %."""
    mine = {(r.instance, r.seed): r for r in records if r.solver == subject}
    if not mine:
        return ""
    lines = [
        _markdown_row(
            f"{subject} vs",
            "objective %",
            "energy %",
            "makespan %",
            "utilization %",
            "t@1% ratio",
            "runs",
        ),
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for other in (s for s in solvers_in(records) if s != subject):
        pairs = [
            (mine[(r.instance, r.seed)], r)
            for r in records
            if r.solver == other and (r.instance, r.seed) in mine
        ]
        if not pairs:
            continue

        def change(field: str, pairs: list[tuple[Record, Record]] = pairs) -> str:
            changes = [100 * gap(getattr(a, field), getattr(b, field)) for a, b in pairs]
            return f"{np.mean(changes):+.2f}"

        speed = np.mean(
            [time_to_within(a.trace) / max(time_to_within(b.trace), 1e-3) for a, b in pairs]
        )
        changes = [change(field) for field in ("objective", "energy", "makespan", "utilization")]
        lines.append(_markdown_row(other, *changes, f"{speed:.2f}", str(len(pairs))))
    return "\n".join(lines)


def energy_report(records: list[Record]) -> str:
    """Per instance and solver: mean (and standard deviation over seeds) of the objective,
    energy, makespan, utilization, time to within 1 %, feasible runs, and the gap to the
    best proven bound."""
    solvers = solvers_in(records)
    bounds = best_bounds(records)
    lines = [
        _markdown_row(
            "instance",
            "solver",
            "objective",
            "sd",
            "energy kJ",
            "makespan s",
            "util %",
            "t@1% s",
            "feasible",
            "gap to bound %",
        ),
        "|---|---|---:|---:|---:|---:|---:|---:|:-:|---:|",
    ]
    for instance in sorted({r.instance for r in records}):
        for solver in solvers:
            mine = [r for r in records if r.instance == instance and r.solver == solver]
            if not mine:
                continue
            objective = np.array([r.objective for r in mine])
            reach = np.mean([time_to_within(r.trace) for r in mine])
            bound = bounds.get(instance)
            to_bound = f"{100 * gap(objective.mean(), bound):.2f}" if bound is not None else ""
            lines.append(
                _markdown_row(
                    instance,
                    solver,
                    f"{objective.mean():.6g}",
                    f"{objective.std():.3g}",
                    f"{np.mean([r.energy for r in mine]) / 1e3:.1f}",
                    f"{np.mean([r.makespan for r in mine]):.1f}",
                    f"{100 * np.mean([r.utilization for r in mine]):.1f}",
                    f"{reach:.2f}",
                    f"{sum(r.feasible for r in mine)}/{len(mine)}",
                    to_bound,
                )
            )
    summaries = [summary for subject in SUBJECTS if (summary := relative_summary(records, subject))]
    return "\n\n".join(["\n".join(lines), *summaries])


def best_at(trace: tuple[TracePoint, ...], seconds: float) -> TracePoint | None:
    """The best-so-far point ``seconds`` into a run (None if it had no schedule yet)."""
    reached = [point for point in trace if point.elapsed <= seconds]
    return reached[-1] if reached else None


def scale_report(records: list[Record]) -> str:
    """Per instance and solver (first seed): time to the first schedule and to the end,
    evaluations per second, peak memory, and the objective early and at the end as a gap
    to the instance's best final schedule (feasible ones first)."""
    lines = [
        _markdown_row(
            "instance",
            "solver",
            "first schedule s",
            "ended s",
            "evaluations/s",
            "peak RSS MiB",
            "problem MiB",
            "peak / problem",
            f"gap @{EARLY_SECONDS:g}s %",
            "gap at end %",
            "feasible",
        ),
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|:-:|",
    ]
    for instance in dict.fromkeys(r.instance for r in records):
        mine = [r for r in records if r.instance == instance and r.seed == records[0].seed]
        best = min(mine, key=lambda r: (not r.feasible, r.objective)).objective
        for record in mine:
            early = best_at(record.trace, EARLY_SECONDS)
            memory = record.rss_peak or 0
            problem = record.problem_bytes or 1
            lines.append(
                _markdown_row(
                    instance,
                    record.solver,
                    f"{record.trace[0].elapsed:.2f}" if record.trace else "",
                    f"{record.elapsed:.1f}",
                    f"{record.evaluations / max(record.elapsed, 1e-9):,.0f}",
                    f"{memory / MEBIBYTE:,.0f}",
                    f"{problem / MEBIBYTE:,.1f}",
                    f"{memory / problem:.1f}",
                    f"{100 * gap(early.objective, best):+.2f}" if early else "no schedule",
                    f"{100 * gap(record.objective, best):+.2f}",
                    "yes" if record.feasible else "no",
                )
            )
    return "\n".join(lines)
