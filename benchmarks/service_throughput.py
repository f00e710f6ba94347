"""Tiny solves per second through `qsched serve` from 16 clients, and their latency.

    python benchmarks/service_throughput.py --baseline REV --seconds 20 \\
        --report benchmarks/results/service-throughput.md

Each round starts ``qsched serve --workers 2`` (this checkout, and with
``--baseline`` that revision exported as installed, alternately, so machine load
falls on both alike) on loopback, warms it with a few solves, then runs 16
client threads, each calling ``Solve`` (Min-min on a 6-task problem) back to back
for ``--seconds``. It reports solves per second and the latency percentiles of
the calls: the service's overhead per solve, which is what tiny solves measure.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from hybrid_windows import baseline_tree

from qsched.formats.generate import generate
from qsched.service.client import connect
from qsched.v1 import scheduler_pb2, scheduler_pb2_grpc

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = 16
LISTENING = re.compile(r"listening on (127\.0\.0\.1:\d+)")


def serve(tree: Path | None, scratch: Path) -> tuple[subprocess.Popen, str]:
    """``qsched serve`` from ``tree`` (None: this checkout); returns it and its address."""
    environment = dict(os.environ)
    if tree is not None:
        environment["PYTHONPATH"] = str(tree)
    out = scratch / "serve.out"
    with open(out, "w") as stdout:
        process = subprocess.Popen(
            [sys.executable, "-m", "qsched", "serve", "--address", "127.0.0.1:0",
             "--workers", "2", "--db", str(scratch / "jobs.db")],
            stdout=stdout, stderr=subprocess.DEVNULL, env=environment,
            cwd=scratch if tree is not None else ROOT,
        )  # fmt: skip
    deadline = time.monotonic() + 60
    while not (match := LISTENING.search(out.read_text())):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"qsched serve did not start: {out.read_text()}")
        time.sleep(0.05)
    return process, match[1]


def load(address: str, seconds: float) -> list[float]:
    """Latencies (s) of back-to-back tiny solves from `CLIENTS` threads for ``seconds``."""
    request = scheduler_pb2.SolveRequest(problem=generate(6, 3, seed=0), solver="min-min")
    channel = connect(address, ready_timeout=60)
    stub = scheduler_pb2_grpc.SchedulerServiceStub(channel)
    for _ in range(4):
        stub.Solve(request, timeout=60)  # warm: workers, imports, kernels
    latencies: list[list[float]] = [[] for _ in range(CLIENTS)]
    end = time.monotonic() + seconds

    def client(mine: list[float]) -> None:
        while time.monotonic() < end:
            started = time.perf_counter()
            stub.Solve(request, timeout=120)
            mine.append(time.perf_counter() - started)

    threads = [threading.Thread(target=client, args=(mine,)) for mine in latencies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    channel.close()
    return [seconds for mine in latencies for seconds in mine]


def measure(tree: Path | None, seconds: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as scratch:
        process, address = serve(tree, Path(scratch))
        try:
            started = time.monotonic()
            latencies = np.array(load(address, seconds))
            elapsed = time.monotonic() - started
        finally:
            process.terminate()
            process.wait(timeout=30)
    return {
        "solves": len(latencies),
        "per_second": len(latencies) / elapsed,
        "p50": float(np.percentile(latencies, 50)),
        "p99": float(np.percentile(latencies, 99)),
        "max": float(latencies.max()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="a git revision to measure side by side")
    parser.add_argument(
        "--baseline-dir", type=Path, default=Path(tempfile.gettempdir()) / "qsched-baselines"
    )
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--report", type=Path)
    args = parser.parse_args()
    trees = {"this checkout": None}
    if args.baseline:
        trees = {args.baseline: baseline_tree(args.baseline, args.baseline_dir), **trees}
    rows = []
    for round_ in range(args.rounds):
        for name, tree in trees.items():
            result = measure(tree, args.seconds)
            rows.append((name, round_, result))
            print(name, round_, result, flush=True)
    lines = [
        "# Service throughput: tiny solves from 16 clients",
        "",
        f"`qsched serve --workers 2` on loopback, {CLIENTS} client threads calling `Solve` "
        f"(Min-min, 6 tasks x 3 machines) back to back for {args.seconds:g} s per round, "
        f"{args.rounds} rounds alternating; this 2-core machine. Run: `python "
        f"benchmarks/service_throughput.py{' --baseline ' + args.baseline if args.baseline else ''}"
        f" --seconds {args.seconds:g}`.",
        "",
        "| server | round | solves | solves/s | p50 (s) | p99 (s) | max (s) | p99 / p50 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, round_, r in rows:
        lines.append(
            f"| {name} | {round_ + 1} | {r['solves']} | {r['per_second']:.1f} | {r['p50']:.3f} "
            f"| {r['p99']:.3f} | {r['max']:.3f} | {r['p99'] / r['p50']:.1f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.report:
        args.report.write_text(text)


if __name__ == "__main__":
    main()
