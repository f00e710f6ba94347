"""Min-min, Max-min and Sufferage: the compiled kernels against the NumPy loop they replaced.

    python benchmarks/list_scheduling.py [--sizes 1000x32 4000x128] [--out FILE.md]

The NumPy loop below is qsched's implementation up to commit c5dc12d: each
step recomputes every unassigned task's completion time on every machine,
vectorized, O(T^2 M) in all. The compiled kernels (`qsched.search.list_scheduling`)
keep each task's best machines between steps. Both run on the same
generated instances (`qsched gen`, seed 1), one after the other in this
process after a warm-up of the kernels, and must place every task alike;
the table gives seconds and the ratio, measured in the same run.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from qsched.formats.generate import generate
from qsched.model.evaluate import over_capacity
from qsched.model.problem import Problem
from qsched.search.list_scheduling import fastest_runtimes, list_schedule

Selector = Callable[[np.ndarray, np.ndarray], int]
SELECTORS: dict[str, Selector] = {
    "min-min": lambda best, second: int(np.argmin(best)),
    "max-min": lambda best, second: int(np.argmax(best)),
    "sufferage": lambda best, second: int(
        np.argmax(np.where(np.isfinite(second), second - best, np.inf))
    ),
}


def numpy_loop(problem: Problem, select: Selector) -> np.ndarray:
    """The replaced implementation: all completion times of all unassigned tasks, every step."""
    runtime = fastest_runtimes(problem)
    ready = np.zeros(problem.num_machines)
    load = np.zeros_like(problem.capacity)
    unassigned = np.arange(problem.num_tasks)
    assignment = np.empty(problem.num_tasks, dtype=np.int64)
    while unassigned.size:
        completion = ready + runtime[unassigned]
        over = over_capacity(load[None] + problem.demand[unassigned, None], problem.capacity)
        fits = ~np.any(over, axis=2)
        fits |= ~fits.any(axis=1, keepdims=True)
        completion = np.where(fits, completion, np.inf)
        best_machine = np.argmin(completion, axis=1)
        ordered = np.sort(completion, axis=1)
        second = ordered[:, 1] if problem.num_machines > 1 else ordered[:, 0]
        chosen = select(ordered[:, 0], second)
        task, machine = unassigned[chosen], best_machine[chosen]
        assignment[task] = machine
        ready[machine] = completion[chosen, machine]
        load[machine] += problem.demand[task]
        unassigned = np.delete(unassigned, chosen)
    return assignment


def seconds(run: Callable[[], np.ndarray]) -> tuple[float, np.ndarray]:
    started = time.perf_counter()
    assignment = run()
    return time.perf_counter() - started, assignment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["1000x32", "4000x128"])
    parser.add_argument("--out", help="also write the Markdown table here")
    args = parser.parse_args()
    warm = Problem.from_message(generate(50, 4, 1))
    for rule in SELECTORS:
        list_schedule(warm, rule)
    lines = [
        "| tasks x machines | heuristic | NumPy loop s | compiled s | speed-up |",
        "|---|---|---:|---:|---:|",
    ]
    for size in args.sizes:
        tasks, machines = map(int, size.split("x"))
        problem = Problem.from_message(generate(tasks, machines, 1))
        for rule, select in SELECTORS.items():
            old, expected = seconds(lambda: numpy_loop(problem, select))  # noqa: B023
            new, assignment = seconds(lambda: list_schedule(problem, rule))  # noqa: B023
            if not np.array_equal(assignment, expected):
                raise SystemExit(f"{rule} on {size}: the two implementations disagree")
            lines.append(f"| {size} | {rule} | {old:.2f} | {new:.3f} | {old / new:,.0f}x |")
            print(lines[-1], flush=True)
    if args.out:
        with open(args.out, "w") as sink:
            sink.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
