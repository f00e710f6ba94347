"""Batch benchmarks (`qsched bench`): solvers x instances x seeds at one budget, resumable.

Suites:

- ``hcsp``: the published HCSP instances in ``DATA/hcsp/SIZE`` (makespan
  objective): Braun et al.'s 12 at 512 x 16 unless other sizes are chosen
  (`hcsp_suite`: 2,048 x 64, 4,096 x 128), reported per size as the gap to
  Gogos et al.'s CPR makespans and to the best known;
- ``energy``: five generated energy-aware instances, frozen as files in
  ``DATA/energy`` (DVFS, SPECpower curves, deadlines, power cap), reported as
  energy, makespan, utilization and time to within 1 % of the final value per
  solver, mean and spread over seeds, and the gap to the best proven bound
  where an exact solver gave one;
- ``scale``: cluster-size instances made on the fly (`SCALE_INSTANCES`:
  generated energy-aware ones up to 20,000 x 1,000, and Braun-style ETC
  matrices), reported as time to the first schedule, peak memory against the
  problem's own arrays, evaluations per second, and the objective after 10 s
  and at the end.

A solver is named as in the registry, or ``name@key=value+...`` to run it
with options under its own label (``hybrid@sub_solver=exhaustive``, the
hybrid's classical ablation; `qsched.model.options.parse_label`).

Each run is one process of a local pool (``jobs`` at a time, one thread
each) or one task on a Ray cluster (``executor="ray"``), and appends its
`Record` to the output file as a JSON line as soon as it ends: the metrics,
the proven bound, the solver's facts, its convergence trace and the
schedule. Runs already in the file are not run again, so an interrupted
benchmark resumes. `qsched.bench.report` checks the records with the shared
evaluator and writes the reports; `qsched.bench.plots` draws them.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import MISSING, asdict, dataclass, fields
from functools import partial
from pathlib import Path
from typing import Any

from tqdm import tqdm

from qsched.bench import hcsp_suite, memory
from qsched.formats import files, hcsp
from qsched.formats.generate import generate
from qsched.model import registry
from qsched.model.options import parse_label
from qsched.model.problem import Limits, Problem
from qsched.model.solver import Budget, TracePoint
from qsched.v1 import problem_pb2

SUITES = ("hcsp", "braun", "energy", "scale")
#: Where the suites' instance files are, and where records go unless told otherwise.
DATA = Path("datasets")
RESULTS = Path("benchmarks") / "results"
ENERGY_DIRECTORY = Path("energy")
#: The scale suite's largest instance is the default limit's size; nothing is refused here.
SCALE_LIMITS = Limits(max_tasks=1 << 40, max_machines=1 << 40, max_cells=1 << 40)


def _braun_problem(
    tasks: int, machines: int, consistency: str = "i", heterogeneity: str = "hihi"
) -> problem_pb2.AllocationProblem:
    name = f"etc-{tasks}x{machines}-u_{consistency}_{heterogeneity}-s1"
    etc = hcsp.braun_etc(
        tasks,
        machines,
        seed=1,
        consistency=consistency,
        task_heterogeneity=heterogeneity[:2],
        machine_heterogeneity=heterogeneity[2:],
    )
    return hcsp.etc_problem(etc, name)


#: The braun suite: Braun et al.'s twelve classes (consistency x task and machine
#: heterogeneity) drawn anew at 1,024 x 32 (seed 1); no best known values exist for them,
#: so gaps are to the best lower bound proven (`bench_report.gap_targets`).
BRAUN_INSTANCES: dict[str, Callable[[], problem_pb2.AllocationProblem]] = {
    f"etc-1024x32-u_{c}_{h}-s1": partial(_braun_problem, 1_024, 32, c, h)
    for c in hcsp.CONSISTENCIES
    for h in ("hihi", "hilo", "lohi", "lolo")
}


#: The scale suite: name -> how to make it (seed 1 throughout).
SCALE_INSTANCES: dict[str, Callable[[], problem_pb2.AllocationProblem]] = {
    **{
        f"gen-{t}x{m}-s1": partial(generate, t, m, 1)
        for t, m in ((512, 16), (2_000, 64), (10_000, 256), (20_000, 1_000))
    },
    **{
        f"etc-{t}x{m}-u_i_hihi-s1": partial(_braun_problem, t, m)
        for t, m in ((1_024, 32), (4_096, 128))
    },
}
EXECUTORS = ("local", "ray")
#: Each run on one thread: runs share the cores, not each other's threads.
SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}

#: What identifies a run: (instance, solver label, seed, wall seconds, evaluations).
RunKey = tuple[str, str, int, float | None, int | None]


@dataclass(frozen=True)
class Run:
    """One solver (label) on one instance with one seed and budget."""

    suite: str
    instance: str
    solver: str
    seed: int
    wall_seconds: float | None
    budget_evaluations: int | None

    @property
    def key(self) -> RunKey:
        return (self.instance, self.solver, self.seed, self.wall_seconds, self.budget_evaluations)


@dataclass(frozen=True)
class Record(Run):
    """A finished run as stored: one JSON line of the output file."""

    objective: float
    energy: float
    makespan: float
    utilization: float
    feasible: bool
    evaluations: int
    elapsed: float
    #: `StopReason` value; None in records made before it was recorded.
    stop_reason: str | None
    #: A proven lower bound on the objective, when the solver proved one.
    bound: float | None
    #: The solver's facts with JSON-ready values (numbers, strings, tables of them by name).
    facts: dict[str, Any]
    #: Best-so-far points; stored as [elapsed, evaluations, objective, feasible].
    trace: tuple[TracePoint, ...]
    assignment: tuple[int, ...]
    levels: tuple[int, ...]
    #: Resident memory (bytes) when the solve started and at its peak, and the bytes of the
    #: problem's arrays; None in records made before they were recorded.
    rss_start: int | None = None
    rss_peak: int | None = None
    problem_bytes: int | None = None

    def to_json(self) -> str:
        data = asdict(self)
        data["trace"] = [[p.elapsed, p.evaluations, p.objective, p.feasible] for p in self.trace]
        return json.dumps(data)

    @classmethod
    def from_json(cls, line: str) -> Record:
        data = json.loads(line)
        names = {f.name for f in fields(cls)}
        required = {f.name for f in fields(cls) if f.default is MISSING}
        if not required <= set(data) <= names:
            raise ValueError(f"not a bench record: fields {sorted(data)}")
        data["trace"] = tuple(TracePoint(e, n, o, f, "") for e, n, o, f in data["trace"])
        data["assignment"] = tuple(data["assignment"])
        data["levels"] = tuple(data["levels"])
        return cls(**data)


def instances(suite: str, data: Path, sizes: Sequence[str] | None = None) -> list[str]:
    """The suite's instance names; ``sizes`` chooses the hcsp suite's (default: 512 x 16)
    and no other suite has any."""
    if sizes is not None and suite != "hcsp":
        raise ValueError(f"the {suite} suite has no sizes to choose; only the hcsp suite has")
    if suite == "hcsp":
        return hcsp_suite.names(data, sizes or (hcsp_suite.DEFAULT_SIZE,))
    if suite == "energy":
        return sorted(p.stem for p in (data / ENERGY_DIRECTORY).glob("*.json"))
    if suite == "scale":
        return list(SCALE_INSTANCES)
    if suite == "braun":
        return list(BRAUN_INSTANCES)
    raise ValueError(f"unknown suite {suite!r}; known: {', '.join(SUITES)}")


def load(suite: str, instance: str, data: Path) -> Problem:
    if suite == "hcsp":
        return files.read_problem(hcsp_suite.path(data, instance))
    if suite == "energy":
        return files.read_problem(data / ENERGY_DIRECTORY / f"{instance}.json")
    if suite == "braun":
        return Problem.from_message(BRAUN_INSTANCES[instance]())
    return Problem.from_message(SCALE_INSTANCES[instance](), SCALE_LIMITS)


def run(spec: Run, data: Path) -> Record:
    """Solve once and describe it as a record, with the memory the solve took."""
    problem = load(spec.suite, spec.instance, data)
    budget = Budget(wall_seconds=spec.wall_seconds, evaluations=spec.budget_evaluations)
    name, options = parse_label(spec.solver)
    rss_start = memory.reset_peak()
    result = registry.solve(problem, name, budget, seed=spec.seed, options=options)
    evaluation = result.evaluation
    return Record(
        **asdict(spec),
        objective=evaluation.objective,
        energy=evaluation.energy,
        makespan=evaluation.makespan,
        utilization=evaluation.utilization,
        feasible=evaluation.feasible,
        evaluations=result.evaluations,
        elapsed=result.elapsed,
        stop_reason=result.stop_reason.value,
        bound=result.bound,
        facts={k: v for k, v in result.facts.items() if _recorded(v)},
        trace=result.trace,
        assignment=tuple(evaluation.assignment.tolist()),
        levels=tuple(evaluation.levels.tolist()),
        rss_start=rss_start,
        rss_peak=memory.peak(),
        problem_bytes=memory.array_bytes(problem),
    )


def _recorded(fact: Any) -> bool:
    """Whether a fact goes into the record: numbers, strings, and tables of them by name (the
    hybrid's windows per sub-solver), not arrays (QAOA's angles)."""
    if isinstance(fact, dict):
        return all(isinstance(key, str) and _recorded(value) for key, value in fact.items())
    return isinstance(fact, (bool, int, float, str))


def read_records(path: Path) -> list[Record]:
    return (
        [Record.from_json(line) for line in path.read_text().splitlines() if line.strip()]
        if path.exists()
        else []
    )


def bench(
    suite: str,
    solvers: Iterable[str],
    seeds: Iterable[int],
    out: Path,
    *,
    wall_seconds: float | None = None,
    evaluations: int | None = None,
    jobs: int = 1,
    data: Path = DATA,
    executor: str = "local",
    address: str | None = None,
    show_progress: bool | None = None,
    sizes: Sequence[str] | None = None,
) -> list[Record]:
    """Run what ``out`` does not hold yet and return all of this suite's records in it.

    ``sizes``: the hcsp suite's instance sizes to run (`instances`); the records returned
    are the file's, of every size.

    ``executor``: ``local`` (a pool of ``jobs`` processes) or ``ray`` (a Ray
    cluster at ``address``, or a local Ray instance with ``jobs`` CPUs);
    both run the same `run` and write the same records.
    """
    solvers = list(solvers)
    for solver in solvers:
        registry.get(parse_label(solver)[0])  # unknown names fail before anything runs
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; known: {', '.join(EXECUTORS)}")
    done = {record.key for record in read_records(out)}
    todo = [
        Run(suite, instance, solver, seed, wall_seconds, evaluations)
        for instance in instances(suite, data, sizes)
        for solver in solvers
        for seed in seeds
    ]
    todo = [spec for spec in todo if spec.key not in done]
    out.parent.mkdir(parents=True, exist_ok=True)
    results = (
        _run_local(todo, data.resolve(), jobs)
        if executor == "local"
        else _run_ray(todo, data.resolve(), jobs, address)
    )
    with out.open("a") as sink:
        for record in tqdm(
            results,
            total=len(todo),
            desc=f"bench {suite}",
            unit="run",
            disable=None if show_progress is None else not show_progress,
        ):
            sink.write(record.to_json() + "\n")
            sink.flush()
    return [record for record in read_records(out) if record.suite == suite]


def _single_thread() -> None:
    """Process-pool initializer: runs before the worker imports the solvers (and so Numba)."""
    os.environ.update(SINGLE_THREAD)


def _run_local(todo: list[Run], data: Path, jobs: int) -> Iterator[Record]:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(  # a fresh process per run, so peak memory is the run's own
        max_workers=jobs, mp_context=context, initializer=_single_thread, max_tasks_per_child=1
    ) as pool:
        for future in as_completed([pool.submit(run, spec, data) for spec in todo]):
            yield future.result()


def _run_ray(todo: list[Run], data: Path, jobs: int, address: str | None) -> Iterator[Record]:
    """The same runs as Ray tasks (one CPU each); records come back as tasks finish. On a
    cluster, ``data`` must exist at the same path on every node (the hcsp suite reads files)."""
    import ray

    started_here = not ray.is_initialized()
    if started_here:
        ray.init(
            address=address,
            num_cpus=None if address else jobs,
            runtime_env={"env_vars": SINGLE_THREAD},
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    try:
        remote = ray.remote(num_cpus=1)(run)
        pending = [remote.remote(spec, data) for spec in todo]
        while pending:
            finished, pending = ray.wait(pending, num_returns=1)
            yield ray.get(finished[0])
    finally:
        if started_here:
            ray.shutdown()
