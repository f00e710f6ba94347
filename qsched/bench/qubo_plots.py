"""The QUBO benchmark's figure (matplotlib, headless), from its rows (`qsched.bench.qubo_runner`).

Four panels: ground-state probability and TTS99 seconds against qubits, one
line per sampler (QAOA samplers at their best depth per size), and the
approximation ratio and the raw samples' feasible share against QAOA depth
(mean over sizes; the peers, which have no depth, as horizontal lines).
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend is chosen first)

from qsched.bench.qubo_report import Row, grouped, mean, p_ground, samplers  # noqa: E402
from qsched.solvers.samplers import PEERS  # noqa: E402

#: Axis ranges of the per-size panels (an exact P(ground) can be 1e-40; it is drawn off-axis).
P_LIMITS = (1e-6, 1.5)
TTS_LIMITS = (1e-5, 1e5)


def best_depth_series(rows: list[Row], sampler: str, field: str) -> tuple[list[int], list[float]]:
    """Per size: ``field``'s mean at the depth where the sampler's P(ground) is highest."""
    sizes, values = [], []
    mine = [r for r in rows if r["sampler"] == sampler]
    for (size,), group in sorted(grouped(mine, "qubits").items()):
        depths = grouped(group, "depth")
        chosen = max(depths.values(), key=p_ground)
        value = p_ground(chosen) if field == "p_ground" else mean(chosen, field)
        if value is not None and math.isfinite(value) and value > 0:
            sizes.append(size)
            values.append(value)
    return sizes, values


def figure(rows: list[Row], path: Path) -> Path:
    """The four panels, written to ``path``."""
    fig, axes = plt.subplots(2, 2, figsize=(12, 9))
    names = samplers(rows)
    colours = {name: f"C{k % 10}" for k, name in enumerate(names)}
    for axis, field, title, limits in (
        (axes[0, 0], "p_ground", "P(ground state) (QAOA: best depth)", P_LIMITS),
        (
            axes[0, 1],
            "tts99_seconds",
            "TTS99 seconds (QAOA: best depth; dashed: + setup)",
            TTS_LIMITS,
        ),
    ):
        for name in names:
            sizes, values = best_depth_series(rows, name, field)
            axis.plot(sizes, values, "o-", color=colours[name], label=name)
            if field == "tts99_seconds" and name.startswith("qaoa"):
                sizes, values = best_depth_series(rows, name, "tts99_seconds_with_setup")
                axis.plot(sizes, values, "--", color=colours[name], alpha=0.6)
        axis.set_yscale("log")
        axis.set_ylim(*limits)
        axis.xaxis.get_major_locator().set_params(integer=True)
        axis.set_xlabel("qubits")
        axis.set_title(title, fontsize=10)
    qaoa = [r for r in rows if r["method"] == "qaoa"]
    for axis, field, title in (
        (axes[1, 0], "approx_ratio", "approximation ratio (sampled) vs depth"),
        (axes[1, 1], "feasible_share", "feasible share of raw samples vs depth"),
    ):
        for name in samplers(qaoa):
            depths = sorted(grouped([r for r in qaoa if r["sampler"] == name], "depth").items())
            axis.plot(
                [d for (d,), _ in depths],
                [mean(g, field) for _, g in depths],
                "o-",
                color=colours[name],
                label=name,
            )
        for name in PEERS:
            value = mean([r for r in rows if r["sampler"] == name], field)
            if value is not None:
                axis.axhline(value, color=colours.get(name, "k"), linestyle=":", label=name)
        axis.set_xlabel("QAOA depth p")
        axis.xaxis.get_major_locator().set_params(integer=True)
        axis.set_title(title + " (mean over sizes)", fontsize=10)
    handles = {line.get_label(): line for axis in axes.flat for line in axis.get_lines()}
    labels = [n for n in names if n in handles]
    fig.legend([handles[n] for n in labels], labels, loc="lower center", ncol=min(len(labels), 5))
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
