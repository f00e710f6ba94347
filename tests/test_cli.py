"""The `qsched` command as a user runs it: demo, solve (local and through a server), jobs, solvers."""

import json
import subprocess
import sys
from pathlib import Path

from qsched.cli import main

EXAMPLE = Path(__file__).resolve().parent.parent / "datasets" / "examples" / "gen-40x6-s1.json"


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_demo_starts_a_server_and_compares_solvers():
    completed = subprocess.run(
        [sys.executable, "-m", "qsched", "demo", "--evaluations", "2000"], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    out = completed.stdout
    assert "qsched server on 127.0.0.1:" in out
    for solver in ("min-min", "max-min", "sufferage", "local-search"):
        assert f"\n{solver} " in out
    assert "best: " in out


def test_solve_prints_a_table_and_the_schedule(capsys):
    code, out, _ = run_cli(capsys, "solve", str(EXAMPLE), "--solver", "local-search", "--evaluations", "200", "--schedule")
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
    bad.write_text(json.dumps({"tasks": [{"id": "a", "work": -1}], "machines": [{"id": "m", "speed": 1}]}))
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
    code, out, _ = run_cli(capsys, "solve", str(EXAMPLE), "--server", server.address, "--solver", "sufferage", "--json")
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


BRAUN = Path(__file__).resolve().parent.parent / "datasets" / "hcsp" / "512x16" / "u_c_lolo.0"


def test_compare_prints_solvers_side_by_side_with_gap_to_the_exact_bound(capsys):
    code, out, _ = run_cli(capsys, "compare", str(BRAUN), "--solvers", "min-min,ga,milp", "--seconds", "1.5", "--json")
    assert code == 0
    comparison = json.loads(out)
    assert [r["solver"] for r in comparison["results"]] == ["min-min", "ga", "milp"]
    bound = comparison["best_bound"]
    assert 0 < bound <= min(r["schedule"]["metrics"]["makespan_seconds"] for r in comparison["results"])

    code, out, _ = run_cli(capsys, "compare", str(EXAMPLE), "--solvers", "min-min,local-search", "--evaluations", "300")
    lines = out.splitlines()
    assert code == 0
    assert "t@1% s" in lines[0] and "gap %" in lines[0]
    assert lines[2].startswith("min-min") and lines[3].startswith("local-search")


def test_compare_through_the_server_reports_the_best_bound(server, capsys):
    code, out, _ = run_cli(capsys, "compare", str(BRAUN), "--solvers", "sufferage,milp", "--seconds", "1.5", "--server", server.address, "--json")
    comparison = json.loads(out)
    assert code == 0
    assert comparison["best_bound"] == comparison["results"][1]["facts"]["bound"]
