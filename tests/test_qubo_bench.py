"""`qsched bench qubo`: its metrics, its instances (qubit counts, ground states, feasibility),
and the command end to end (rows, report, saved instances, merged rows). Properties only."""

import json
import math

import numpy as np
import pytest

from qsched.bench import qubo_runner
from qsched.bench.qubo_instances import (
    Instance,
    approximation_ratio,
    bits_of,
    build,
    encoded,
    find_instances,
    sample_metrics,
    tts99,
)
from qsched.cli import main
from qsched.formats.generate import generate
from qsched.model.problem import Problem
from qsched.solvers.engine import cost_diagonal
from qsched.solvers.parameters import optimize, optimize_by_depth
from qsched.solvers.samplers import make_sampler


@pytest.fixture(scope="module")
def instance() -> Instance:
    (found,) = find_instances(8, 1)
    return found


def test_tts99_edge_cases():
    assert tts99(0.0) == math.inf
    assert tts99(0.99) == 1
    assert tts99(1.0) == 1
    assert tts99(0.5) == 7  # ceil(ln 0.01 / ln 0.5) = ceil(6.64)
    assert tts99(1e-3) == math.ceil(math.log(0.01) / math.log(1 - 1e-3))


def test_approximation_ratio_is_one_at_the_ground_state_and_zero_at_the_worst():
    assert approximation_ratio(-3.0, -3.0, 5.0) == 1.0
    assert approximation_ratio(5.0, -3.0, 5.0) == 0.0
    assert approximation_ratio(1.0, -3.0, 5.0) == 0.5


@pytest.mark.parametrize("qubits", [8, 12])
def test_instances_have_the_requested_qubits_and_their_brute_force_ground_state(qubits):
    found = find_instances(qubits, 2, seed=0)
    assert len({i.name for i in found}) == 2
    for instance in found:
        assert instance.qubits == qubits
        diagonal = cost_diagonal(instance.qubo)
        assert instance.ground_energy == pytest.approx(diagonal.min())
        assert instance.max_energy == pytest.approx(diagonal.max())
        assert np.allclose(diagonal[instance.ground_states], diagonal.min())
        assert np.allclose(instance.energies(instance.ground_states), diagonal.min())
    assert [i.name for i in find_instances(qubits, 2, seed=0)] == [i.name for i in found]


def test_samples_at_the_ground_state_score_one(instance):
    metrics = sample_metrics(instance, {int(instance.ground_states[0]): 10})
    assert metrics["approx_ratio"] == pytest.approx(1.0)
    assert metrics["p_ground_sampled"] == 1.0
    assert metrics["mean_gap"] == pytest.approx(0.0)
    assert metrics["feasible_share"] == 1.0  # the penalties make the ground state feasible


def test_raw_sample_feasibility_is_the_programs():
    """`Instance.feasible` on plain arrays agrees with the program's own rows (capacity and
    power cap included) on random samples and on one-hot samples."""
    problem = Problem.from_message(generate(2, 3, 0))  # capacity rows and a power-cap row
    allocation, _, _ = encoded(problem)
    instance = build(problem, "t", 0, brute_force=False)
    assert instance.le_x.shape[0] >= 2 and np.any(instance.le_on)
    rng = np.random.default_rng(0)
    states = rng.integers(0, 2**instance.qubits, 4000)
    one_hot = rng.integers(0, instance.machines, (4000, instance.tasks))
    cells = instance.cell_qubits[np.arange(instance.tasks), one_hot]
    states = np.concatenate([states, (1 << cells).sum(axis=1)])
    chosen = bits_of(states, instance.qubits)[:, instance.cell_qubits]
    valid = np.all(chosen.sum(axis=2) == 1, axis=1)
    assignment = chosen.argmax(axis=2)
    expected = valid & allocation.meet_rows(assignment)
    assert expected.any() and not expected.all()
    assert np.array_equal(instance.feasible(states), expected)


def test_optimize_by_depth_yields_every_depth_and_ends_where_optimize_does(instance):
    engine = qubo_runner.make_engine(instance, "xy")
    steps = list(optimize_by_depth(engine.expectation, 3, 20))
    assert [s.gammas.size for s in steps] == [1, 2, 3]
    assert steps[-1].value == pytest.approx(optimize(engine.expectation, 3, 20).value)


def test_noisy_rows_use_the_engines_angles(instance):
    settings = qubo_runner.Settings(depths=(1,), shots=20, seeds=(0,))
    engine = qubo_runner.make_engine(instance, "xy")
    (angles,) = qubo_runner.schedules(engine, "opt", [1], 5)
    (row,) = qubo_runner.noisy_rows(instance, "aer-noisy", [angles], settings)
    assert row["sampler"] == "qaoa-xy-opt@aer-noisy" and row["shots"] == 20
    assert row["setup_seconds"] >= angles.setup_seconds
    assert 0 <= row["feasible_share"] <= 1 and row["p_ground_exact"] is None


def bench(tmp_path, capsys, *extra):
    out = tmp_path / "q.jsonl"
    argv = ["bench", "qubo", "--qubits", "8", "--instances-per-size", "1", "--depths", "1-2"]
    code = main([*argv, "--shots", "16", "--noise", "0", "--out", str(out), *extra])
    assert code == 0
    return out, capsys.readouterr().out


def test_bench_qubo_writes_rows_report_and_figure_and_resumes(tmp_path, capsys):
    out, printed = bench(tmp_path, capsys)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    samplers = {(r["sampler"], r["depth"]) for r in rows}
    for mixer in ("xy", "x"):
        for strategy in ("ramp", "opt"):
            assert {(f"qaoa-{mixer}-{strategy}", d) for d in (1, 2)} <= samplers
    assert {("sa", None), ("tabu", None), ("random", None)} <= samplers
    for r in rows:
        assert r["qubits"] == 8 and r["shots"] == 16
        assert 0 <= r["feasible_share"] <= 1 and 0 <= r["p_ground_sampled"] <= 1
        if r["sampler"].startswith("qaoa-xy"):
            assert r["feasible_share"] == 1.0  # the XY mixer keeps every row one-hot
    report = out.with_suffix(".md").read_text()
    assert "## Where QAOA loses" in report and "| 8 |" in report
    assert out.with_suffix(".png").stat().st_size > 0
    assert "Where QAOA loses" in printed
    bench(tmp_path, capsys)  # everything is there: nothing runs again
    assert len(out.read_text().splitlines()) == len(rows)


def test_saved_instances_load_back(tmp_path, capsys, instance):
    assert main(["bench", "qubo", "--qubits", "8", "--instances-per-size", "1",
                 "--save-instances", str(tmp_path)]) == 0  # fmt: skip
    (path,) = tmp_path.glob("*.npz")
    loaded = Instance.load(path)
    assert loaded.name == instance.name and loaded.qubits == 8
    for field in ("linear", "quadratic", "groups", "initial", "cell_qubits", "ground_states"):
        assert np.array_equal(getattr(loaded, field), getattr(instance, field))
    assert loaded.ground_energy == instance.ground_energy
    with np.load(path) as data:  # plain arrays: a numpy-only script reads them
        assert data["le_x"].dtype == np.int64 and data["linear"].shape == (8,)
    out, _ = bench(tmp_path, capsys, "--instances", str(tmp_path), "--samplers", "sa,random")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert {(r["instance"], r["sampler"]) for r in rows} == {
        (instance.name, "sa"),
        (instance.name, "random"),
    }


def test_peers_on_an_instance_without_ground_states_have_no_ground_probability(instance):
    unknown = Instance(**{**vars(instance), "ground_states": np.zeros(0, dtype=np.int64)})
    settings = qubo_runner.Settings(depths=(1,), shots=8, seeds=(0,))
    (row,) = qubo_runner.peer_rows(unknown, make_sampler("sa"), settings)
    assert row["p_ground_sampled"] is None and row["tts99_samples"] is None


def test_merged_rows_join_the_rows_and_the_report(tmp_path, capsys):
    out, _ = bench(tmp_path, capsys)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    gpu = [
        r | {"engine": "gpu", "qubits": 24, "instance": "q24-x"}
        for r in rows
        if r["sampler"] == "qaoa-xy-opt"
    ]
    extra = tmp_path / "gpu.jsonl"
    extra.write_text("".join(json.dumps(r) + "\n" for r in gpu))
    bench(tmp_path, capsys, "--merge", str(extra))
    merged = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(merged) == len(rows) + len(gpu)
    report = out.with_suffix(".md").read_text()
    assert "### 24 qubits" in report and "gpu at 24 qubits" in report
    bench(tmp_path, capsys, "--merge", str(extra))  # merging twice adds nothing
    assert len(out.read_text().splitlines()) == len(merged)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--qubits", "3"], "must be 4 to 32 qubits"),
        (["--qubits", "26"], "--qubits above 24 need --engine gpu"),
    ],
)
def test_widths_out_of_reach_are_refused_by_flag(tmp_path, capsys, flags, message):
    """Not a search that never ends, nor a 2^n allocation on the CPU: the flag is named."""
    try:
        code = main(["bench", "qubo", *flags, "--out", str(tmp_path / "q.jsonl")])
    except SystemExit as exit_:  # argparse's refusal
        code = exit_.code
    assert code == 2
    assert message in capsys.readouterr().err
