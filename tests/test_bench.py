"""`qsched bench`: resumable batch runs, records checked by the evaluator, reports."""

from __future__ import annotations

import dataclasses
import json
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from qsched.bench import hcsp_suite, plots
from qsched.bench import report as bench_report
from qsched.bench import runner as bench
from qsched.cli import main
from qsched.formats import hcsp
from qsched.formats.generate import generate
from qsched.model.evaluate import evaluate
from qsched.model.options import parse_label
from qsched.model.solver import TracePoint

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "datasets"
RESULTS = ROOT / "benchmarks" / "results"


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_hcsp_suite_reproduces_min_min_and_resumes_without_rerunning(tmp_path):
    out = tmp_path / "hcsp.jsonl"
    records = bench.bench(
        "hcsp", ["min-min"], [0], out, evaluations=1, jobs=2, data=DATA, show_progress=False
    )
    assert len(records) == 12 and len(lines(out)) == 12
    # Braun et al.'s Min-min: 13.63 % above CPR on average (worst 26.24 %), 13.71 % above the
    # best known (worst 26.47 %)
    text = bench_report.report("hcsp", records, DATA)
    assert "| 512x16 | min-min | 12 | 13.63% | 26.24% | 13.71% | 26.47% |" in text
    assert "**13.63%**" in text  # the per-instance table's mean gap to CPR
    again = bench.bench(
        "hcsp", ["min-min"], [0], out, evaluations=1, jobs=2, data=DATA, show_progress=False
    )
    assert len(again) == 12 and len(lines(out)) == 12  # nothing ran twice
    targets, label = bench_report.gap_targets("hcsp", records, DATA)
    figure = plots.gaps(records, targets, tmp_path / "gaps.png", label)
    assert len(targets) == 12 and figure.read_bytes().startswith(b"\x89PNG")


def test_energy_suite_reports_spread_over_seeds_and_feasible_runs(tmp_path):
    out = tmp_path / "energy.jsonl"
    records = bench.bench(
        "energy",
        ["min-min", "local-search"],
        [0, 1],
        out,
        evaluations=200,
        jobs=2,
        data=DATA,
        show_progress=False,
    )
    assert len(records) == len(bench.instances("energy", DATA)) * 2 * 2
    assert all(r.trace and r.assignment and r.levels for r in records)
    assert bench.read_records(out) == records  # a record reads back as it was written
    text = bench_report.report("energy", records, DATA)
    assert text.count("| local-search |") == len(bench.instances("energy", DATA))
    assert "2/2" in text  # feasible runs out of seeds


def test_a_record_that_disagrees_with_the_evaluator_is_refused(tmp_path):
    out = tmp_path / "hcsp.jsonl"
    records = bench.bench(
        "hcsp", ["min-min"], [0], out, evaluations=1, jobs=2, data=DATA, show_progress=False
    )
    for field in ("makespan", "objective"):
        tampered = [*records]
        tampered[3] = dataclasses.replace(records[3], **{field: getattr(records[3], field) * 0.9})
        with pytest.raises(ValueError, match=f"stored {field} .* is not the evaluator's"):
            bench_report.report("hcsp", tampered, DATA)


def test_cli_bench_needs_a_budget_and_prints_the_report(tmp_path, capsys):
    assert (
        main(["bench", "energy", "--solvers", "min-min", "--out", str(tmp_path / "e.jsonl")]) == 2
    )
    assert "give a budget" in capsys.readouterr().err
    report = tmp_path / "report.md"
    assert (
        main(
            [
                "bench",
                "energy",
                "--solvers",
                "min-min",
                "--evaluations",
                "1",
                "--workers",
                "1",
                "--out",
                str(tmp_path / "e.jsonl"),
                "--report",
                str(report),
                "--data",
                str(DATA),
            ]
        )
        == 0
    )
    assert "| min-min |" in capsys.readouterr().out and "| min-min |" in report.read_text()
    for figure in ("report.convergence.png", "report.metrics.png"):
        assert (tmp_path / figure).read_bytes().startswith(b"\x89PNG")


def test_ray_executor_gives_the_local_executor_s_records(tmp_path):
    local = bench.bench(
        "hcsp",
        ["min-min", "local-search"],
        [0],
        tmp_path / "local.jsonl",
        evaluations=50,
        jobs=2,
        data=DATA,
        show_progress=False,
    )
    on_ray = bench.bench(
        "hcsp",
        ["min-min", "local-search"],
        [0],
        tmp_path / "ray.jsonl",
        evaluations=50,
        jobs=2,
        data=DATA,
        executor="ray",
        show_progress=False,
    )

    def schedules(records):
        return {r.key: (r.makespan, r.assignment) for r in records}

    assert len(on_ray) == 24 and schedules(on_ray) == schedules(local)


def test_solver_labels_carry_options_for_ablations():
    assert parse_label("hybrid@sub_solver=exhaustive+shots=128") == (
        "hybrid",
        {"sub_solver": "exhaustive", "shots": 128},
    )
    assert parse_label("ga") == ("ga", {})


def test_relative_summary_compares_runs_on_the_same_instance_and_seed():
    def record(solver, seed, objective, energy):
        trace = (
            TracePoint(0.1, 1, objective * 2, True, ""),
            TracePoint(1.0, 9, objective, True, ""),
        )
        return bench.Record(
            "energy",
            "i",
            solver,
            seed,
            1.0,
            None,
            objective=objective,
            energy=energy,
            makespan=10.0,
            utilization=0.5,
            feasible=True,
            evaluations=9,
            elapsed=1.0,
            stop_reason="budget",
            bound=None,
            facts={},
            trace=trace,
            assignment=(0,),
            levels=(0,),
        )

    records = [
        record("hybrid", 0, 90.0, 45.0),
        record("ga", 0, 100.0, 50.0),
        record("ga", 1, 1.0, 1.0),
    ]
    summary = bench_report.relative_summary(records, "hybrid")
    assert (
        "| ga | -10.00 | -10.00 | +0.00 | +0.00 | 1.00 | 1 |" in summary
    )  # seed 1 has no hybrid run to pair with


def test_scale_suite_lists_its_cluster_sizes_and_makes_braun_style_matrices():
    names = bench.instances("scale", DATA)
    assert names[-3:] == [
        "gen-20000x1000-s1",
        "etc-1024x32-u_i_hihi-s1",
        "etc-4096x128-u_i_hihi-s1",
    ]
    consistent = hcsp.braun_etc(50, 8, seed=1, consistency="c")
    assert (np.diff(consistent, axis=1) >= 0).all()
    inconsistent = hcsp.braun_etc(2000, 8, seed=1)
    assert inconsistent.min() >= 1.0 and inconsistent.max() <= 3000.0 * 1000.0
    assert not (np.diff(inconsistent, axis=1) >= 0).all()
    assert (hcsp.braun_etc(20, 4, seed=2) == hcsp.braun_etc(20, 4, seed=2)).all()


def test_scale_records_carry_memory_and_the_report_and_figure_use_them(tmp_path, monkeypatch):
    small = {
        "gen-30x4-s1": partial(generate, 30, 4, 1),
        "etc-40x5-u_i_hihi-s1": lambda: hcsp.etc_problem(hcsp.braun_etc(40, 5, seed=1), "e"),
    }
    monkeypatch.setattr(bench, "SCALE_INSTANCES", small)
    records = [
        bench.run(bench.Run("scale", instance, solver, 0, None, 300), DATA)
        for instance in small
        for solver in ("mct", "local-search")
    ]
    assert all(r.rss_peak >= r.rss_start > 0 and r.problem_bytes > 0 for r in records)
    text = bench_report.report("scale", records, DATA)
    assert text.count("| gen-30x4-s1 |") == 2 and "peak / problem" in text
    assert plots.scale(records, tmp_path / "scale.png").stat().st_size > 0


def test_records_written_before_memory_was_recorded_still_read():
    line = (RESULTS / "hcsp-hybrid-60s.jsonl").read_text().splitlines()[0]
    record = bench.Record.from_json(line)
    assert record.rss_peak is None and record.problem_bytes is None


def test_braun_suite_draws_the_twelve_classes_and_measures_gaps_to_the_lp_bound(
    tmp_path, monkeypatch
):
    names = bench.instances("braun", DATA)
    assert len(names) == 12 and "etc-1024x32-u_c_lohi-s1" in names
    problem = bench.load("braun", "etc-1024x32-u_c_lohi-s1", DATA)
    assert problem.etc.shape == (1024, 32) and (np.diff(problem.etc, axis=1) >= 0).all()
    small = {name: partial(bench._braun_problem, 40, 4, name[-9], name[-7:-3]) for name in names}
    monkeypatch.setattr(bench, "BRAUN_INSTANCES", small)
    records = [
        bench.run(bench.Run("braun", instance, "min-min", 0, None, 1), DATA)
        for instance in names[:3]
    ]
    targets, label = bench_report.gap_targets("braun", records, DATA)
    assert label == "gap to proven bound %" and len(targets) == 3
    assert all(targets[r.instance] <= r.makespan for r in records)
    text = bench_report.report("braun", records, DATA)
    assert "best bound" in text and "**mean gap**" in text


def test_reports_keep_the_windows_acceptance_of_the_hybrid_and_its_ablations():
    """Records made before the facts were kept per sub-solver count under their sub_solver."""
    runs = bench.read_records(RESULTS / "hcsp-hybrid-60s.jsonl")
    text = bench_report.report("hcsp", runs, DATA)
    assert "## Hybrid windows per sub-solver" in text
    hybrid = [r for r in runs if r.solver == "hybrid"]
    tried = sum(r.facts["windows"] for r in hybrid)
    accepted = sum(r.facts["accepted_windows"] for r in hybrid)
    assert f"| hybrid | qaoa | 12 | {tried} | {accepted} | {100 * accepted / tried:.2f} |" in text
    plain = [dataclasses.replace(r, facts={}) for r in runs]
    assert "Hybrid windows per sub-solver" not in bench_report.report("hcsp", plain, DATA)


@pytest.mark.parametrize("suite", ["hcsp", "energy"])
def test_every_report_shows_each_sub_solvers_windows_of_a_mixed_hybrid(suite):
    """A mixed run's windows, per sub-solver, with the objective improvement each brought; the
    rows add up to the run's flat totals."""
    instance = bench.instances(suite, DATA)[0]
    record = bench.run(bench.Run(suite, instance, "hybrid@sub_solver=mixed", 0, None, 400), DATA)
    per_solver = record.facts["sub_solvers"]
    assert sum(s["windows"] for s in per_solver.values()) == record.facts["windows"]
    assert sum(s["accepted"] for s in per_solver.values()) == record.facts["accepted_windows"]
    text = bench_report.report(suite, [record], DATA)
    assert "## Hybrid windows per sub-solver" in text
    for name, counts in per_solver.items():
        assert f"| hybrid@sub_solver=mixed | {name} | 1 | {counts['windows']} |" in text


def _small_hcsp_data(root: Path) -> Path:
    """A datasets folder with one instance (and its solution files) of two sizes."""
    for size, instance in (("512x16", "u_c_lolo.0"), ("2048x64", "A.u_c_lolo")):
        folder = root / "hcsp" / size
        folder.mkdir(parents=True)
        for path in (DATA / "hcsp" / size).glob(f"{instance}*"):
            (folder / path.name).symlink_to(path)
    return root


def test_hcsp_sizes_name_their_instances_apart_and_the_default_keeps_the_old_names():
    names = bench.instances("hcsp", DATA, hcsp_suite.SIZES)
    assert len(names) == 12 + 12 + 6 and len(set(names)) == len(names)
    assert (
        bench.instances("hcsp", DATA)
        == names[:12]
        == sorted(hcsp.best_known_makespans(DATA / "hcsp" / "512x16"))
    )
    assert "2048x64/A.u_c_lohi" in names and "4096x128/A.u_c_lohi" in names
    assert [hcsp_suite.size_of(name) for name in names[11:14]] == ["512x16", *["2048x64"] * 2]
    problem = bench.load("hcsp", "4096x128/A.u_s_lolo", DATA)
    assert problem.etc.shape == (4096, 128) and problem.name == "A.u_s_lolo"
    old = bench.read_records(RESULTS / "hcsp-30s.jsonl")
    assert {hcsp_suite.size_of(r.instance) for r in old} == {"512x16"}
    with pytest.raises(FileNotFoundError, match="no HCSP instances of size 1024x32"):
        bench.instances("hcsp", DATA, ["1024x32"])
    with pytest.raises(ValueError, match="only the hcsp suite has"):
        bench.instances("energy", DATA, ["512x16"])
    with pytest.raises(ValueError, match="'2048' is not TASKSxMACHINES"):
        hcsp_suite.parse_sizes("512x16,2048")
    assert hcsp_suite.parse_sizes(" 2048x64,512x16,2048x64 ") == ("2048x64", "512x16")


def test_cli_bench_refuses_a_size_that_is_not_tasks_x_machines(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["bench", "hcsp", "--sizes", "512x16,big", "--evaluations", "1"])
    assert caught.value.code == 2
    assert "'big' is not TASKSxMACHINES (known: 512x16,2048x64,4096x128)" in capsys.readouterr().err


def test_cli_bench_hcsp_reports_the_gap_to_cpr_per_size(tmp_path, capsys):
    data = _small_hcsp_data(tmp_path / "data")
    out, report = tmp_path / "hcsp.jsonl", tmp_path / "hcsp.md"
    command = ["bench", "hcsp", "--solvers", "min-min", "--evaluations", "1", "--workers", "2"]
    command += ["--out", str(out), "--data", str(data), "--report", str(report)]
    assert main([*command, "--sizes", "512x16,2048x64"]) == 0
    text = capsys.readouterr().out
    assert text.strip() == report.read_text().strip()
    records = bench.read_records(out)
    assert sorted(r.instance for r in records) == ["2048x64/A.u_c_lolo", "u_c_lolo.0"]
    assert "| 512x16 | min-min | 1 | 5.91% | 5.91% | 5.95% | 5.95% |" in text  # Braun et al.'s
    assert "## 512x16: gap to CPR per instance" in text
    assert "## 2048x64: gap to CPR per instance" in text and "| 2048x64/A.u_c_lolo |" in text
    section = text[text.index("## 2048x64") :]
    assert "best known" not in section  # CPR is the only value published at this size
    assert (tmp_path / "hcsp.gaps.png").read_bytes().startswith(b"\x89PNG")
    # A record holding CPR's own schedule is CPR's value, as far as its name's one decimal says.
    cpr = hcsp.solution_files(data / "hcsp" / "2048x64")[0]
    mine = next(r for r in records if r.instance == "2048x64/A.u_c_lolo")
    value = evaluate(
        bench.load("hcsp", mine.instance, data), hcsp.read_solution(cpr.path), np.array(mine.levels)
    )
    copied = dataclasses.replace(
        mine,
        solver="cpr",
        assignment=tuple(value.assignment.tolist()),
        makespan=value.makespan,
        objective=value.objective,
    )
    summary = bench_report.report("hcsp", [mine, copied], data)
    (row,) = [line for line in summary.splitlines() if line.startswith("| 2048x64 | cpr | 1 |")]
    gaps = [float(cell.strip(" %")) for cell in row.strip("|").split("|")[3:]]
    assert all(abs(gap) <= 100 * 0.05 / cpr.makespan + 0.005 for gap in gaps)
    # The default size reports its own runs only; nothing runs again.
    assert main(command) == 0
    text = capsys.readouterr().out
    assert "2048x64" not in text and len(bench.read_records(out)) == 2
