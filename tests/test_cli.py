"""The `qsched` command as a user runs it: demo, solve (local and through a server), jobs,
solvers."""

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from google.rpc import code_pb2, status_pb2

from qsched.cli import demo_verdict, main
from qsched.formats import files, hcsp
from qsched.formats.messages import failed_response
from qsched.model import registry
from qsched.v1 import scheduler_pb2

EXAMPLE = Path(__file__).resolve().parent.parent / "datasets" / "examples" / "gen-40x6-s1.json"


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.timeout(600)
def test_demo_starts_a_server_and_compares_solvers():
    completed = subprocess.run(
        [sys.executable, "-m", "qsched", "demo", "--evaluations", "2000"],
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert completed.returncode == 0, completed.stderr
    out = completed.stdout
    assert "qsched server on 127.0.0.1:" in out
    for solver in (
        "min-min",
        "max-min",
        "sufferage",
        "local-search",
        "qaoa",
        "qaoa-reference",
        "exhaustive",
    ):
        assert f"\n{solver} " in out
    assert "best: " in out
    # Workers exit cleanly once they answer, so the semaphores their libraries made
    # (numba's threading layer, in the qaoa worker) are unlinked, not leaked.
    assert "leaked semaphore" not in completed.stderr


def failed(solver: str) -> scheduler_pb2.SolveResponse:
    return failed_response(
        solver, "", status_pb2.Status(code=code_pb2.INTERNAL, message=f"{solver} failed: boom"), 1.0
    )


def test_demo_reports_the_stock_stack_failing_and_fails_only_for_its_own_solvers():
    solved = scheduler_pb2.SolveResponse(solver="qaoa")
    assert demo_verdict([solved]) == (0, "")
    code, verdict = demo_verdict([solved, failed("qaoa-reference")])
    assert code == 0 and "stock qiskit stack (qaoa-reference) failed" in verdict
    code, verdict = demo_verdict([failed("qaoa"), failed("qaoa-reference")])
    assert code == 1 and "qaoa failed" in verdict


def test_solve_prints_a_table_and_the_schedule(capsys):
    code, out, _ = run_cli(
        capsys,
        "solve",
        str(EXAMPLE),
        "--solver",
        "local-search",
        "--evaluations",
        "200",
        "--schedule",
    )
    assert code == 0
    assert out.splitlines()[0].split()[:3] == ["solver", "objective", "energy"]
    assert "local-search" in out and "node-05" in out


def test_solve_json_is_a_solve_response(capsys):
    code, out, _ = run_cli(capsys, "solve", str(EXAMPLE), "--json", "--seed", "3")
    response = json.loads(out)
    assert code == 0
    assert response["solver"] == "min-min"
    assert len(response["schedule"]["assignment"]) == 40
    assert response["stop_reason"] == "STOP_REASON_COMPLETED"


def test_bad_problem_file_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps({"tasks": [{"id": "a", "work": -1}], "machines": [{"id": "m", "speed": 1}]})
    )
    code, out, err = run_cli(capsys, "solve", str(bad))
    assert code == 2
    assert "tasks[0].work must be > 0" in err
    assert "Traceback" not in err
    bad.write_text("{not json")
    code, _, err = run_cli(capsys, "solve", str(bad))
    assert code == 2 and "not an AllocationProblem" in err


def test_unknown_option_is_named(capsys):
    code, _, err = run_cli(capsys, "solve", str(EXAMPLE), "--option", "depth=3")
    assert code == 2 and "options.depth" in err


def test_solve_through_a_server_then_inspect_the_job(server, capsys):
    code, out, _ = run_cli(
        capsys, "solve", str(EXAMPLE), "--server", server.address, "--solver", "sufferage", "--json"
    )
    assert code == 0
    assert json.loads(out)["solver"] == "sufferage"

    code, out, _ = run_cli(capsys, "jobs", "list", "--server", server.address)
    assert code == 0
    job_id, state, solver = out.split()[:3]
    assert (state, solver) == ("succeeded", "sufferage")

    code, out, _ = run_cli(capsys, "jobs", "get", job_id, "--server", server.address)
    assert code == 0 and "sufferage" in out and "makespan" in out

    code, out, _ = run_cli(capsys, "jobs", "watch", job_id, "--server", server.address)
    assert code == 0 and "succeeded" in out

    code, _, err = run_cli(capsys, "jobs", "cancel", job_id, "--server", server.address)
    assert code == 1 and "FAILED_PRECONDITION" in err

    code, _, err = run_cli(capsys, "jobs", "get", "nope", "--server", server.address)
    assert code == 1 and "NOT_FOUND" in err


def test_solvers_lists_local_and_remote(server, capsys):
    code, local, _ = run_cli(capsys, "solvers")
    assert code == 0 and "min-min" in local and "heuristic" in local
    code, remote, _ = run_cli(capsys, "solvers", "--server", server.address)
    assert code == 0 and remote == local


def test_solvers_name_prints_its_options_the_same_locally_and_from_a_server(server, capsys):
    code, local, _ = run_cli(capsys, "solvers", "ga")
    lines = local.splitlines()
    assert code == 0 and lines[0].startswith("ga (metaheuristic): ")
    assert lines[2].split() == ["option", "type", "default", "allowed", "description"]
    assert lines[3].split()[:5] == ["population", "int", "60", "[2,", "10000]"]
    assert any(line.split()[:4] == ["start", "string", '"min-min"', "one"] for line in lines)
    code, remote, _ = run_cli(capsys, "solvers", "ga", "--server", server.address)
    assert code == 0 and remote == local
    code, _, err = run_cli(capsys, "solvers", "nope")
    assert code == 2 and "unknown solver 'nope'" in err


BRAUN = Path(__file__).resolve().parent.parent / "datasets" / "hcsp" / "512x16" / "u_c_lolo.0"


@pytest.fixture
def small_etc_file(tmp_path) -> Path:
    """24 tasks x 4 machines of a Braun instance: the MILP proves its optimum in about
    a second, so its bound is there under any budget these tests give."""
    path = tmp_path / "etc-24x4.json"
    files.write_message(hcsp.etc_problem(hcsp.read_etc(BRAUN)[:24, :4], "etc-24x4"), path)
    return path


def test_compare_prints_solvers_side_by_side_with_gap_to_the_exact_bound(capsys, small_etc_file):
    code, out, _ = run_cli(
        capsys,
        "compare",
        str(small_etc_file),
        "--solvers",
        "min-min,ga,milp",
        "--evaluations",
        "2000",
        "--json",
    )
    assert code == 0
    comparison = json.loads(out)
    assert [r["solver"] for r in comparison["results"]] == ["min-min", "ga", "milp"]
    bound = comparison["best_bound"]
    assert (
        0
        < bound
        <= min(r["schedule"]["metrics"]["makespan_seconds"] for r in comparison["results"]) + 1e-6
    )

    code, out, _ = run_cli(
        capsys, "compare", str(EXAMPLE), "--solvers", "min-min,local-search", "--evaluations", "300"
    )
    lines = out.splitlines()
    assert code == 0
    assert "t@1% s" in lines[0] and "gap %" in lines[0]
    assert lines[2].startswith("min-min") and lines[3].startswith("local-search")


def test_compare_through_the_server_reports_the_best_bound(server, capsys, small_etc_file):
    code, out, _ = run_cli(
        capsys,
        "compare",
        str(small_etc_file),
        "--solvers",
        "sufferage,milp",
        "--evaluations",
        "100",
        "--server",
        server.address,
        "--json",
    )
    comparison = json.loads(out)
    assert code == 0
    assert comparison["best_bound"] == comparison["results"][1]["bound"]


def test_a_crashing_solver_is_a_failed_row_and_the_others_still_come_back(
    capsys, monkeypatch, small_etc_file
):
    def crash(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setitem(registry._SOLVERS, "ga", replace(registry.get("ga"), function=crash))
    code, out, _ = run_cli(
        capsys,
        "compare",
        str(small_etc_file),
        "--solvers",
        "min-min,ga,sufferage",
        "--evaluations",
        "100",
        "--json",
    )
    results = json.loads(out)["results"]
    assert code == 0
    assert [r["solver"] for r in results] == ["min-min", "ga", "sufferage"]
    error = results[1]["error"]
    assert (error["code"], error["message"]) == (
        code_pb2.INTERNAL,
        "ga failed: ZeroDivisionError: boom",
    )
    assert "schedule" not in results[1]
    assert all(results[i]["schedule"]["metrics"]["feasible"] for i in (0, 2))

    code, out, _ = run_cli(
        capsys, "compare", str(small_etc_file), "--solvers", "min-min,ga", "--evaluations", "100"
    )
    lines = out.splitlines()
    assert code == 0
    assert lines[3].split()[0] == "ga" and lines[3].split()[-1] == "FAILED"
    assert lines[-1] == "ga FAILED: INTERNAL: ga failed: ZeroDivisionError: boom"
