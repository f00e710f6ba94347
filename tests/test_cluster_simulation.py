"""The cluster-simulation benchmark runs end to end (small), so the published one cannot rot."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_a_small_simulation_places_every_pod_and_writes_its_report(tmp_path) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import cluster_simulation
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    report = tmp_path / "simulation.md"
    cluster_simulation.main(
        [
            "--nodes",
            "12",
            "--pods",
            "40",
            "--waves",
            "2",
            "--solve-seconds",
            "0.3",
            "--report",
            str(report),
        ]
    )
    text = report.read_text()
    rows = {
        line.split("|")[1].strip(): line.split("|")
        for line in text.splitlines()
        if line.startswith("| ")
    }
    for scheduler in ("least-allocated", "balanced-allocation", "default", "qsched"):
        assert rows[scheduler][8].strip() == "0"  # pending pods: 40 pods fit 12 nodes easily
    assert "filter + prioritize, per pod" in rows
    assert report.with_suffix(".png").stat().st_size > 0
