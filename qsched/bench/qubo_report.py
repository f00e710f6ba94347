"""The QUBO benchmark's report and figure, from its rows (`qsched.bench.qubo_runner`).

Every number is a mean over the instances of a size (and over seeds); TTS
figures are geometric means (a TTS spans many orders of magnitude), infinite
(∞) when a TTS is infinite on any instance (no ground state in the shots,
or a zero probability). "Where QAOA loses" is
computed from the rows: for each size, the best noiseless QAOA configuration
(highest mean ground-state probability over the mixers, angle strategies and
depths run, so chosen after the fact in QAOA's favour) against each peer.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from qsched.solvers.samplers import PEERS

Row = dict[str, Any]
#: The report's sampler order; anything else (a label from merged rows) follows.
ORDER = ("qaoa-xy-opt", "qaoa-xy-ramp", "qaoa-x-opt", "qaoa-x-ramp", *PEERS)
#: The per-size tables' columns: (title, field, format).
COLUMNS = (
    ("approx ratio", "approx_ratio", "{:.4f}"),
    ("mean gap", "mean_gap", "{:.3f}"),
    ("P(ground) exact", "p_ground_exact", "{:.3g}"),
    ("P(ground) sampled", "p_ground_sampled", "{:.3g}"),
    ("feasible", "feasible_share", "{:.3f}"),
    ("TTS99 samples", "tts99_samples", "{:.3g}"),
    ("TTS99 s", "tts99_seconds", "{:.3g}"),
    ("TTS99 s + setup", "tts99_seconds_with_setup", "{:.3g}"),
    ("sample s", "sample_seconds", "{:.3g}"),
    ("setup s", "setup_seconds", "{:.3g}"),
)
INFINITE = ("tts99_samples", "tts99_seconds", "tts99_seconds_with_setup")


def mean(rows: Iterable[Row], field: str) -> float | None:
    """The mean of ``field`` over ``rows``; None where no row has it. TTS fields: the geometric
    mean, ∞ if any is (a missing TTS is an infinite one)."""
    values = [r.get(field) for r in rows]
    if field in INFINITE:  # geometric: one instance's 1e30 would hide every other
        if not values:
            return None
        finite = [float(v) for v in values if v is not None]
        if len(finite) < len(values):
            return math.inf
        return math.exp(sum(math.log(max(v, 1e-300)) for v in finite) / len(finite))
    present = [float(v) for v in values if v is not None]
    return sum(present) / len(present) if present else None


def cell(value: float | None, style: str = "{:.3g}") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return "∞" if math.isinf(value) else style.format(value)


def samplers(rows: list[Row]) -> list[str]:
    present = {r["sampler"] for r in rows}
    return [s for s in ORDER if s in present] + sorted(present - set(ORDER))


def grouped(rows: list[Row], *fields: str) -> dict[tuple[Any, ...], list[Row]]:
    groups: dict[tuple[Any, ...], list[Row]] = defaultdict(list)
    for r in rows:
        groups[tuple(r.get(f) for f in fields)].append(r)
    return groups


def noiseless_qaoa(rows: list[Row]) -> list[Row]:
    return [r for r in rows if r["method"] == "qaoa" and r.get("backend") == "engine"]


def best_qaoa(rows: list[Row]) -> dict[int, tuple[str, int, list[Row]]]:
    """Per size: the noiseless QAOA (sampler, depth) with the highest mean ground-state
    probability (exact where known), and its rows."""
    best: dict[int, tuple[str, int, list[Row]]] = {}
    for (size, sampler, depth), group in grouped(
        noiseless_qaoa(rows), "qubits", "sampler", "depth"
    ).items():
        score = p_ground(group)
        if size not in best or score > p_ground(best[size][2]):
            best[size] = (sampler, depth, group)
    return best


def p_ground(rows: list[Row]) -> float:
    """Mean ground-state probability: exact where the rows have it, sampled otherwise."""
    exact = mean(rows, "p_ground_exact")
    return exact if exact is not None else mean(rows, "p_ground_sampled") or 0.0


def header(rows: list[Row], evaluations: int) -> list[str]:
    sizes = sorted({r["qubits"] for r in rows})
    instances = sorted({r["instance"] for r in rows})
    commands = sorted({r.get("command") or "(not recorded)" for r in rows})
    engines = sorted(
        {f"{r['engine']} ({r['qubits']} qubits)" for r in rows if r["method"] == "qaoa"}
    )
    warm = sorted({r["instance"] for r in rows if r.get("start_is_optimal")})
    shots = sorted({r["shots"] for r in rows})
    return [
        "# QUBO benchmark: QAOA against simulated annealing, tabu search and random sampling",
        "",
        f"{len(instances)} task-allocation QUBOs (the `qaoa` solver's encoding of generated "
        f"problems) of {', '.join(map(str, sizes))} qubits, {', '.join(map(str, shots))} "
        "samples (shots, reads) per sampler and seed. Made with:",
        "",
        "```sh",
        *commands,
        "```",
        "",
        "QAOA engines: " + ", ".join(_compress(engines)) + ".",
        f"The warm start is already optimal on {len(warm)} of {len(instances)} instances "
        "(the XY mixer starts on the answer there, up to slack bits): "
        + (", ".join(warm) if warm else "none")
        + ".",
        "",
        "Definitions. E(z) is the QUBO's value (penalties included), E_min and E_max its "
        "lowest and highest values over all 2^n states (brute force). **Approximation ratio** "
        "= (E_max - <E>) / (E_max - E_min) with <E> the mean over the samples (1: every "
        "sample optimal; the penalties make E_max large, so ratios crowd near 1 — the **mean "
        "gap** (<E> - E_min) / |E_min| separates the samplers better). **P(ground)**: the "
        "probability of a ground state, exact from the state vector for noiseless QAOA (and "
        "#ground / 2^n for random sampling), and the share of samples at a ground state. "
        "**TTS99 samples** = ceil(ln 0.01 / ln(1 - p)) from the exact p where there is one, "
        "else the sampled p (1 when p >= 0.99, ∞ when p = 0). **TTS99 s** = seconds per "
        "sample x TTS99 samples, where a sample's cost is the sampler's wall time for all "
        "shots / shots (for QAOA on a simulator: evolving the state once and drawing the "
        "shots, so per-shot cost falls with more shots; on hardware it would be the shot "
        "time). **Angles**: *ramp* is the linear ramp (no optimizer); *opt* minimizes <E> "
        f"depth by depth (INTERP start, COBYLA, at most {evaluations} expectation "
        "values per depth, as the `qaoa` solver); the noisy circuits reuse the engine's *opt* "
        "angles. **+ setup** adds the one-off angle optimization (all depths up to this one, "
        "as INTERP needs them) and a circuit backend's transpilation. **Feasible**: the share "
        "of raw samples whose one-hot rows and capacity / power-cap rows hold, as the "
        "`qaoa` solver's decode counts it. Timings were taken in the same run on a 2-core "
        "machine shared with other jobs, every sampler on one thread: compare them as ratios. "
        "Tables give means over instances and seeds; TTS columns give geometric means.",
    ]


def what_ran(rows: list[Row]) -> list[str]:
    """Per sampler: the sizes and depths it ran at, and its rows."""
    lines = ["| sampler | qubits | depths | rows |", "|---|---|---|---:|"]
    for sampler in samplers(rows):
        mine = [r for r in rows if r["sampler"] == sampler]
        sizes = sorted({r["qubits"] for r in mine})
        depths = sorted({r["depth"] for r in mine if r["depth"] is not None})
        lines.append(
            f"| {sampler} | {', '.join(map(str, sizes))} | "
            f"{', '.join(map(str, depths)) or '–'} | {len(mine)} |"
        )
    return lines


def _compress(labels: list[str]) -> list[str]:
    by_engine: dict[str, list[str]] = defaultdict(list)
    for label in labels:
        engine, size = label.split(" ", 1)
        by_engine[engine].append(size.strip("()").split()[0])
    return [f"{e} at {', '.join(sorted(s, key=int))} qubits" for e, s in by_engine.items()]


def headline(rows: list[Row]) -> list[str]:
    """Per size: the best noiseless QAOA against each peer."""
    lines = [
        "## Headline: the best QAOA per size against the peers",
        "",
        "| qubits | best QAOA (depth) | QAOA P(ground) | SA | tabu | random | "
        "QAOA TTS99 s | + setup | SA TTS99 s | tabu TTS99 s |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    peers = grouped([r for r in rows if r["sampler"] in PEERS], "qubits", "sampler")
    for size, (sampler, depth, group) in sorted(best_qaoa(rows).items()):
        peer = {name: peers.get((size, name), []) for name in PEERS}
        lines.append(
            f"| {size} | {sampler} (p={depth}) | {cell(p_ground(group), '{:.3g}')} | "
            + " | ".join(cell(p_ground(peer[n]), "{:.3g}") if peer[n] else "–" for n in PEERS)
            + f" | {cell(mean(group, 'tts99_seconds'))} | "
            f"{cell(mean(group, 'tts99_seconds_with_setup'))} | "
            f"{cell(mean(peer['sa'], 'tts99_seconds')) if peer['sa'] else '–'} | "
            f"{cell(mean(peer['tabu'], 'tts99_seconds')) if peer['tabu'] else '–'} |"
        )
    return lines


def full_tables(rows: list[Row]) -> list[str]:
    """Per size, one line per sampler and depth, every metric."""
    lines = ["## Every sampler, per size (mean over instances and seeds)"]
    titles = " | ".join(title for title, _, _ in COLUMNS)
    for size, size_rows in sorted(grouped(rows, "qubits").items()):
        count = len({r["instance"] for r in size_rows})
        lines += [
            "",
            f"### {size[0]} qubits ({count} instances)",
            "",
            f"| sampler | depth | {titles} |",
            "|---|---:|" + "---:|" * len(COLUMNS),
        ]
        groups = grouped(size_rows, "sampler", "depth")
        for sampler in samplers(size_rows):
            for (name, depth), group in sorted(groups.items(), key=lambda item: item[0][1] or 0):
                if name == sampler:
                    values = " | ".join(cell(mean(group, f), s) for _, f, s in COLUMNS)
                    lines.append(f"| {sampler} | {depth or '–'} | {values} |")
    return lines


def by_depth(rows: list[Row]) -> list[str]:
    """Approximation ratio and P(ground) against depth, per QAOA sampler, over all sizes."""
    qaoa = [r for r in rows if r["method"] == "qaoa"]
    depths = sorted({r["depth"] for r in qaoa})
    lines = [
        "## QAOA against depth (mean over all sizes run at that depth)",
        "",
        "| sampler | metric | " + " | ".join(f"p={d}" for d in depths) + " |",
        "|---|---|" + "---:|" * len(depths),
    ]
    groups = grouped(qaoa, "sampler", "depth")
    for sampler in samplers(qaoa):
        for title, metric in (
            ("approx ratio", lambda g: mean(g, "approx_ratio")),
            ("mean gap", lambda g: mean(g, "mean_gap")),
            ("P(ground)", p_ground),
            ("feasible", lambda g: mean(g, "feasible_share")),
        ):
            cells = [
                cell(metric(groups[(sampler, d)]), "{:.4g}") if (sampler, d) in groups else "–"
                for d in depths
            ]
            lines.append(f"| {sampler} | {title} | " + " | ".join(cells) + " |")
    return lines


def losses(rows: list[Row]) -> list[str]:
    """Where QAOA loses: per peer and metric, the sizes where the best QAOA does worse."""
    best = best_qaoa(rows)
    peers = grouped([r for r in rows if r["sampler"] in PEERS], "qubits", "sampler")
    lines = [
        "## Where QAOA loses",
        "",
        "Per peer and metric, the sizes at which the best noiseless QAOA of that size "
        "(headline table) does worse than the peer, and by how much where it is a time.",
        "",
        "| against | metric | QAOA loses at (qubits) | sizes lost | QAOA / peer |",
        "|---|---|---|---:|---:|",
    ]
    for peer in PEERS:
        sizes = sorted(s for s in best if (s, peer) in peers)
        for title, metric, higher_wins in COMPARISONS:
            lost, ratios = [], []
            for size in sizes:
                ours, theirs = metric(best[size][2]), metric(peers[(size, peer)])
                if (ours < theirs) if higher_wins else (ours > theirs):
                    lost.append(size)
                    if not higher_wins and theirs > 0 and math.isfinite(ours):
                        ratios.append(ours / theirs)
            factor = f"{min(ratios):.3g}x-{max(ratios):.3g}x" if ratios else ""
            where = ", ".join(map(str, lost)) or "nowhere"
            lines.append(f"| {peer} | {title} | {where} | {len(lost)} / {len(sizes)} | {factor} |")
    return lines + [""] + noise_lines(rows) + scaling_lines(rows)


#: (title, metric over a group of rows, whether higher is better) for `losses`.
COMPARISONS: list[tuple[str, Callable[[list[Row]], float], bool]] = [
    ("P(ground)", p_ground, True),
    ("approximation ratio", lambda g: mean(g, "approx_ratio") or 0.0, True),
    ("feasible share", lambda g: mean(g, "feasible_share") or 0.0, True),
    ("TTS99 s", lambda g: _finite_mean(g, "tts99_seconds"), False),
    ("TTS99 s + setup", lambda g: _finite_mean(g, "tts99_seconds_with_setup"), False),
]


def _finite_mean(rows: list[Row], field: str) -> float:
    value = mean(rows, field)
    return math.inf if value is None else value


def noise_lines(rows: list[Row]) -> list[str]:
    """Noisy circuits against the same angles on the noiseless engine."""
    lines = []
    clean = grouped([r for r in rows if r["sampler"] == "qaoa-xy-opt"], "instance", "depth")
    noisy = [r for r in rows if r["method"] == "qaoa" and r.get("backend") not in ("engine", None)]
    for (backend,), group in sorted(grouped(noisy, "backend").items()):
        pairs = [
            (r, clean[(r["instance"], r["depth"])])
            for r in group
            if (r["instance"], r["depth"]) in clean
        ]
        if not pairs:
            continue
        ours = sum(r["p_ground_sampled"] for r, _ in pairs) / len(pairs)
        theirs = sum(p_ground(c) for _, c in pairs) / len(pairs)
        feasible = sum(r["feasible_share"] for r, _ in pairs) / len(pairs)
        feasible_clean = sum(mean(c, "feasible_share") or 0.0 for _, c in pairs) / len(pairs)
        sizes = sorted({r["qubits"] for r, _ in pairs})
        lines.append(
            f"- With **{backend}** noise (same angles, {', '.join(map(str, sizes))} qubits, "
            f"{len(pairs)} runs), P(ground) goes from {theirs:.4f} (noiseless) to {ours:.4f} and "
            f"the feasible share from {feasible_clean:.3f} to {feasible:.3f}."
        )
    return lines


def scaling_lines(rows: list[Row]) -> list[str]:
    """How fast P(ground) falls with qubits: a least-squares slope of log10 P per qubit."""
    lines = []
    best = best_qaoa(rows)
    series = {"best QAOA": {size: p_ground(group) for size, (_, _, group) in best.items()}}
    for peer in PEERS:
        series[peer] = {
            size: p_ground(group)
            for (size, name), group in grouped(rows, "qubits", "sampler").items()
            if name == peer
        }
    slopes = {}
    for name, points in series.items():
        usable = [(s, math.log10(p)) for s, p in points.items() if p > 0]
        if len(usable) >= 2:
            slopes[name] = _slope(usable)
    if slopes:
        lines.append(
            "- P(ground) against qubits (log10 per qubit, least squares over the sizes where it "
            "is > 0): " + ", ".join(f"{n} {v:+.3f}" for n, v in slopes.items()) + "."
        )
    return lines


def _slope(points: list[tuple[int, float]]) -> float:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    denominator = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in points) / denominator if denominator else 0.0


def text(rows: list[Row], figure: str, evaluations: int) -> str:
    parts = [
        header(rows, evaluations),
        [""],
        what_ran(rows),
        ["", f"![P(ground), TTS99 and approximation ratio]({figure})", ""],
        headline(rows),
        [""],
        losses(rows),
        [""],
        by_depth(rows),
        [""],
        full_tables(rows),
    ]
    return "\n".join(line for part in parts for line in part) + "\n"
