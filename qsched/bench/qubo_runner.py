"""`qsched bench qubo`: QAOA on the engine beside SA, tabu and random sampling on the same QUBOs.

Papers that judge a quantum optimizer on QUBOs run it beside classical
samplers on the very same QUBO and count the same things per sample. Here
every sampler draws ``shots`` samples of each instance (`qubo_instances`):

- ``qaoa-{xy,x}-{ramp,opt}``: QAOA on an engine, depth by depth, with the
  XY mixer from the warm start (as the ``qaoa`` solver does) or the X mixer
  from |+>, and angles from the linear ramp (no optimizer) or optimized
  depth by depth (INTERP + COBYLA on the exact expectation,
  `parameters.optimize_by_depth`);
- ``qaoa-xy-opt@aer-noisy``, ``qaoa-xy-opt@fake_torino``: the engine's
  optimized angles run as circuits with noise (`circuit.TranspiledQaoa`);
- ``sa``, ``tabu``, ``random``: the peers' samplers on the bare QUBO
  (`qsched.solvers.samplers`, made by name), reads = shots.

Each row is one (instance, sampler, depth, seed) as a JSON line; runs already
in the output are skipped, so a run resumes, and rows from elsewhere (a GPU
run of the same instances) merge in (``--merge``). Beyond the CPU's reach:
``--save-instances DIR`` writes the instances as ``.npz`` (ground states only
up to `qubo_instances.BRUTE_FORCE_QUBITS`); a GPU run fills in
``ground_energy``, ``max_energy`` and ``ground_states`` and samples QAOA
(``--engine gpu --instances DIR --samplers qaoa``, or a script of its own
writing rows in this schema); ``--instances DIR --samplers sa,tabu,random``
runs the peers on the same files here. The row schema (``None`` for what does
not apply, and for an infinite TTS):

instance, qubits, tasks, machines, problem_seed, start_is_optimal,
ground_energy, max_energy, sampler, method (qaoa | sa | tabu | random),
mixer (xy | x), angles (ramp | opt), backend (engine | aer-noisy |
fake_<device>), engine (cpu | gpu), depth, seed, shots, distinct,
mean_energy, best_energy, approx_ratio, mean_gap, p_ground_sampled,
feasible_share (`qubo_instances.sample_metrics`), p_ground_exact,
mean_energy_exact, approx_ratio_exact (from the state; random: the share of
ground states), sample_seconds (drawing the shots, the state's evolution
included), setup_seconds (angle optimization up to this depth, plus
transpilation on a circuit backend), optimizer_evaluations,
seconds_per_sample, tts99_samples, tts99_seconds (per-sample seconds x TTS
samples), tts99_seconds_with_setup (plus the one-off setup), gammas, betas,
command.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from qsched.bench.qubo_instances import (
    BRUTE_FORCE_QUBITS,
    Instance,
    find_instances,
    sample_metrics,
    tts99,
)
from qsched.bench.qubo_settings import OPTIMIZER_EVALUATIONS, SAMPLERS, Settings
from qsched.solvers.engines import engine_type
from qsched.solvers.parameters import linear_ramp, optimize_by_depth
from qsched.solvers.samplers import PEERS, make_sampler
from qsched.solvers.sampling import QuboModel, QuboSampler, RandomSampler

DEFAULT_OUT = Path("benchmarks/results/qubo-bench.jsonl")
NOISY_BACKENDS = ("aer-noisy", "fake_torino")
#: Threads of the CPU engine: one core per sampler, as the peers (single-threaded C++) use,
#: so that times compare side by side (and parallel kernels on a shared machine wait on
#: each other far longer than a small state takes to evolve).
CPU_THREADS = 1
#: The fields that name a row; a row with the same values is not run again.
KEY = ("instance", "sampler", "depth", "seed", "engine")


class Engine(Protocol):
    """What a row needs from a QAOA engine (`engine.QaoaEngine`, or the CUDA one)."""

    def expectation(self, gammas: np.ndarray, betas: np.ndarray) -> float: ...

    def probabilities_of(
        self, gammas: np.ndarray, betas: np.ndarray, states: np.ndarray
    ) -> np.ndarray: ...

    def sample(
        self, gammas: np.ndarray, betas: np.ndarray, shots: int, rng: np.random.Generator
    ) -> dict[int, int]: ...


@dataclass(frozen=True)
class Angles:
    depth: int
    gammas: np.ndarray
    betas: np.ndarray
    setup_seconds: float = 0.0
    evaluations: int = 0


def make_engine(instance: Instance, mixer: str, kind: str = "cpu") -> Engine:
    """An engine for ``instance``: XY mixer from the warm start, or X mixer from |+>; the CUDA
    engine only when asked for (`engines.engine_type`)."""
    groups, initial = (instance.group_lists(), instance.initial) if mixer == "xy" else (None, None)
    engine: Engine = engine_type(kind == "gpu")(instance.qubo, groups, initial)
    return engine


def schedules(
    engine: Engine, strategy: str, depths: Iterable[int], evaluations: int
) -> Iterator[Angles]:
    """Angles per depth: the linear ramp, or the optimum depth by depth with the optimizer's
    time so far (the caller's time between depths is not counted)."""
    wanted = sorted(set(depths))
    if strategy == "ramp":
        for depth in wanted:
            yield Angles(depth, *linear_ramp(depth))
        return
    spent, resumed = 0.0, time.perf_counter()
    for found in optimize_by_depth(engine.expectation, wanted[-1], evaluations):
        spent += time.perf_counter() - resumed
        if found.gammas.size in wanted:
            yield Angles(found.gammas.size, found.gammas, found.betas, spent, found.evaluations)
        resumed = time.perf_counter()


def finite(value: float) -> float | None:
    """JSON has no infinity: None stands for it."""
    return value if math.isfinite(value) else None


def row(
    instance: Instance,
    fields: dict[str, Any],
    counts: dict[int, int],
    sample_seconds: float,
    setup_seconds: float = 0.0,
    p_exact: float | None = None,
    mean_exact: float | None = None,
) -> dict[str, Any]:
    """One row: the instance, the sampler's ``fields``, what the samples show, and TTS99 from
    the exact ground-state probability where known, else the sampled one."""
    metrics = sample_metrics(instance, counts)
    probability = metrics["p_ground_sampled"] if p_exact is None else p_exact
    samples = math.inf if probability is None else tts99(probability)
    per_sample = sample_seconds / metrics["shots"]
    exact_ratio = None
    if mean_exact is not None:
        span = instance.max_energy - instance.ground_energy
        exact_ratio = (instance.max_energy - mean_exact) / span if span > 0 else 1.0
    return {
        "instance": instance.name,
        "qubits": instance.qubits,
        "tasks": instance.tasks,
        "machines": instance.machines,
        "problem_seed": instance.problem_seed,
        "start_is_optimal": instance.start_is_optimal(),
        "ground_energy": instance.ground_energy,
        "max_energy": instance.max_energy,
        **fields,
        **metrics,
        "p_ground_exact": p_exact,
        "mean_energy_exact": mean_exact,
        "approx_ratio_exact": exact_ratio,
        "sample_seconds": sample_seconds,
        "setup_seconds": setup_seconds,
        "seconds_per_sample": per_sample,
        "tts99_samples": finite(samples),
        "tts99_seconds": finite(samples * per_sample),
        "tts99_seconds_with_setup": finite(setup_seconds + samples * per_sample),
    }


def qaoa_rows(
    instance: Instance,
    engine: Engine,
    mixer: str,
    strategy: str,
    settings: Settings,
) -> Iterator[dict[str, Any]]:
    """QAOA rows of one engine: every depth, every seed; the ground-state probability and <E>
    exactly from the state, and the samples drawn from it."""
    fields = {"method": "qaoa", "mixer": mixer, "angles": strategy, "backend": "engine"}
    fields |= {"sampler": f"qaoa-{mixer}-{strategy}", "engine": settings.engine}
    known = instance.ground_states.size > 0
    warm = False
    for angles in schedules(engine, strategy, settings.depths, settings.evaluations):
        gammas, betas = angles.gammas, angles.betas
        if not warm:  # the first call loads the compiled kernels: not a sample's cost
            engine.sample(gammas, betas, 1, np.random.default_rng(0))
            warm = True
        p_exact = ground_probability(engine, angles, instance.ground_states)
        mean_exact = engine.expectation(gammas, betas)
        for seed in settings.seeds:
            started = time.perf_counter()
            counts = engine.sample(gammas, betas, settings.shots, np.random.default_rng(seed))
            yield row(
                instance,
                fields | _angle_fields(angles, seed),
                counts,
                time.perf_counter() - started,
                angles.setup_seconds,
                p_exact if known else None,
                mean_exact,
            )


def ground_probability(engine: Engine, angles: Angles, states: np.ndarray) -> float:
    """The state's probability mass on ``states`` (the GPU engine copies just those states'
    probabilities to the host, not 2^n)."""
    return float(np.sum(engine.probabilities_of(angles.gammas, angles.betas, states)))


def _angle_fields(angles: Angles, seed: int) -> dict[str, Any]:
    return {
        "depth": angles.depth,
        "seed": seed,
        "optimizer_evaluations": angles.evaluations,
        "gammas": np.asarray(angles.gammas).tolist(),
        "betas": np.asarray(angles.betas).tolist(),
    }


def peer_rows(
    instance: Instance, sampler: QuboSampler, settings: Settings
) -> Iterator[dict[str, Any]]:
    """Rows of a classical peer on the bare QUBO, reads = shots; random sampling's exact
    ground-state probability is the share of ground states among the 2^n."""
    p_exact = None
    if isinstance(sampler, RandomSampler) and instance.ground_states.size:
        p_exact = instance.ground_states.size / 2**instance.qubits
    model = QuboModel(instance.qubo)
    sampler.sample(model, 1, 0)  # warm-up: imports and first-call setup
    name = sampler.name
    for seed in settings.seeds:
        started = time.perf_counter()
        counts = sampler.sample(model, settings.shots, seed).counts
        fields = {"sampler": name, "method": name, "engine": "cpu", "depth": None}
        yield row(
            instance, fields | {"seed": seed}, counts, time.perf_counter() - started, 0, p_exact
        )


def noisy_rows(
    instance: Instance, backend: str, optimized: list[Angles], settings: Settings
) -> Iterator[dict[str, Any]]:
    """The XY engine's optimized angles run as a transpiled circuit with ``backend``'s noise;
    setup = the angles' optimization plus transpilation."""
    from qsched.solvers import backends
    from qsched.solvers.circuit import TranspiledQaoa

    fields = {"method": "qaoa", "mixer": "xy", "angles": "opt", "backend": backend}
    fields |= {"sampler": f"qaoa-xy-opt@{backend}", "engine": "cpu"}
    for angles in optimized:
        for seed in settings.seeds:
            started = time.perf_counter()
            circuit = TranspiledQaoa(
                instance.qubo,
                angles.depth,
                backends.device(backend, seed),
                settings.shots,
                instance.group_lists(),
                instance.initial,
            )
            transpiled = time.perf_counter()
            counts = circuit.sample(angles.gammas, angles.betas)
            yield row(
                instance,
                fields | _angle_fields(angles, seed),
                counts,
                time.perf_counter() - transpiled,
                angles.setup_seconds + transpiled - started,
            )


def key(values: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(values.get(name) for name in KEY)


def instance_rows(
    instance: Instance, settings: Settings, done: set[tuple[Any, ...]], rows: list[dict[str, Any]]
) -> Iterator[dict[str, Any]]:
    """Every sampler's rows on ``instance`` that are not in ``done``; ``rows`` (the rows so far)
    gives the noisy circuits the engine's optimized angles."""
    name, seeds = instance.name, settings.seeds

    def missing(sampler: str, depths: Iterable[int | None], engine: str = "cpu") -> bool:
        return any((name, sampler, d, s, engine) not in done for d in depths for s in seeds)

    mixers = ("xy", "x") if instance.qubits <= settings.x_mixer_qubits else ("xy",)
    for mixer in mixers if "qaoa" in settings.samplers else ():
        for strategy in settings.strategies:
            if missing(f"qaoa-{mixer}-{strategy}", settings.depths, settings.engine):
                engine = make_engine(instance, mixer, settings.engine)
                yield from qaoa_rows(instance, engine, mixer, strategy, settings)
    for name in PEERS:
        if name in settings.samplers and missing(name, [None]):
            yield from peer_rows(instance, make_sampler(name), settings)
    if "noisy" not in settings.samplers or instance.qubits > settings.noise_qubits:
        return
    optimized = optimized_angles(
        rows, name, [d for d in settings.depths if d in settings.noise_depths]
    )
    for backend in NOISY_BACKENDS:
        if missing(f"qaoa-xy-opt@{backend}", [a.depth for a in optimized]):
            yield from noisy_rows(instance, backend, optimized, settings)


def optimized_angles(rows: list[dict[str, Any]], instance: str, depths: list[int]) -> list[Angles]:
    """The XY engine's optimized angles for ``instance`` at ``depths``, from its rows."""
    found = {
        r["depth"]: Angles(
            r["depth"],
            np.array(r["gammas"]),
            np.array(r["betas"]),
            r["setup_seconds"],
            r["optimizer_evaluations"],
        )
        for r in rows
        if r["instance"] == instance and r["sampler"] == "qaoa-xy-opt"
    }
    return [found[d] for d in depths if d in found]


def read_rows(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def append_rows(path: Path, rows: Iterable[dict[str, Any]], done: set[tuple[Any, ...]]) -> int:
    """Append the rows not yet in ``done`` to ``path`` as they come (so a run can resume)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with path.open("a") as sink:
        for values in rows:
            if key(values) in done:
                continue
            sink.write(json.dumps(values) + "\n")
            sink.flush()
            done.add(key(values))
            written += 1
    return written


def run(
    instances: Iterable[Instance], settings: Settings, out: Path, merge: Iterable[Path] = ()
) -> list[dict[str, Any]]:
    """Merge rows from elsewhere into ``out``, run what is missing, and return all rows."""
    rows = read_rows(out)
    done = {key(r) for r in rows}
    for extra in merge:
        append_rows(out, read_rows(extra), done)
    rows = read_rows(out)
    for instance in instances:
        print(f"{instance.name}: {instance.qubits} qubits", file=sys.stderr)
        new = instance_rows(instance, settings, done, rows)
        append_rows(out, (_remember(rows, v | {"command": settings.command}) for v in new), done)
    return read_rows(out)


def generated(qubits: Iterable[int], per_size: int, instance_seed: int) -> Iterator[Instance]:
    """The instances of every size, one size at a time."""
    for size in qubits:
        yield from find_instances(size, per_size, instance_seed)


def loaded(directory: Path, ground: Path | None = None) -> Iterator[Instance]:
    """Saved instances (`save_instances`), with the energy ranges and ground states in
    ``ground`` (what `benchmarks/qubo_gpu.py` finds on a GPU where brute force here cannot)."""
    known = json.loads(ground.read_text()) if ground else {}
    for path in sorted(directory.glob("*.npz")):
        instance = Instance.load(path)
        if instance.name in known:
            truth = known[instance.name]
            instance = dataclasses.replace(
                instance,
                ground_energy=float(truth["ground_energy"]),
                max_energy=float(truth["max_energy"]),
                ground_states=np.asarray(truth["ground_states"], dtype=np.int64),
            )
        yield instance


def _remember(rows: list[dict[str, Any]], values: dict[str, Any]) -> dict[str, Any]:
    """``values``, added to ``rows`` first (the noisy runs read the optimized angles there)."""
    rows.append(values)
    return values


def save_instances(
    qubits: Iterable[int], per_size: int, instance_seed: int, directory: Path
) -> list[Path]:
    """The instances as ``.npz`` files for another runner (e.g. a GPU script)."""
    return [instance.save(directory) for instance in generated(qubits, per_size, instance_seed)]


@contextlib.contextmanager
def cpu_threads(count: int | None) -> Iterator[None]:
    """Numba's kernels on ``count`` threads inside the block (None: as they are)."""
    import numba

    previous = numba.get_num_threads()
    if count is not None:
        numba.set_num_threads(count)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def check_engine(args: argparse.Namespace) -> None:
    """QAOA on the GPU needs a CUDA device; on the CPU, widths the engine holds in seconds
    (brute force finds their ground states too)."""
    if "qaoa" not in args.samplers:
        return
    if args.engine == "gpu":
        from qsched.solvers.gpu_engine import gpu_available

        if not gpu_available():
            raise ValueError("--engine gpu needs a CUDA device and this machine has none")
    elif not args.instances and max(args.qubits) > BRUTE_FORCE_QUBITS:
        raise ValueError(
            f"--qubits above {BRUTE_FORCE_QUBITS} need --engine gpu for QAOA "
            "(or --save-instances, then benchmarks/qubo_gpu.py on a GPU machine)"
        )


def main(args: argparse.Namespace) -> int:
    """`qsched bench qubo` (flags in `qsched.cli`): run or save the instances, then report."""
    if args.save_instances:
        for path in save_instances(
            args.qubits, args.instances_per_size, args.instance_seed, args.save_instances
        ):
            print(path)
        return 0
    unknown = set(args.samplers) - set(SAMPLERS)
    if unknown:
        raise ValueError(f"unknown --samplers {sorted(unknown)}; known: {', '.join(SAMPLERS)}")
    check_engine(args)
    settings = Settings(
        depths=tuple(args.depths),
        shots=args.shots,
        seeds=tuple(args.seeds),
        noise_qubits=args.noise,
        noise_depths=tuple(args.noise_depths),
        x_mixer_qubits=args.x_mixer,
        engine=args.engine,
        samplers=tuple(args.samplers),
        command=" ".join(["qsched", *sys.argv[1:]]),
    )
    out = args.out or DEFAULT_OUT
    with cpu_threads(CPU_THREADS if args.engine == "cpu" else None):
        instances = (
            loaded(args.instances, args.ground)
            if args.instances
            else generated(args.qubits, args.instances_per_size, args.instance_seed)
        )
        rows = run(instances, settings, out, args.merge)
    from qsched.bench import qubo_plots, qubo_report

    report = out.with_suffix(".md")
    figure = qubo_plots.figure(rows, report.with_suffix(".png"))
    report.write_text(qubo_report.text(rows, figure.name, OPTIMIZER_EVALUATIONS))
    print(f"rows: {out}; report: {report}; figure: {figure}", file=sys.stderr)
    print(report.read_text())
    return 0
