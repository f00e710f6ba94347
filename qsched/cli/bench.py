"""``qsched bench SUITE``: solvers x instances x seeds of a suite at one budget, resumable,
with a report; ``qsched bench qubo`` (`qsched.cli.bench_qubo`) has flags of its own."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from qsched.bench.hcsp_suite import DEFAULT_SIZE, SIZES, parse_sizes
from qsched.bench.runner import DATA, EXECUTORS, RESULTS, SUITES
from qsched.cli.bench_qubo import add as add_qubo_suite
from qsched.cli.extras import require_bench_extra
from qsched.cli.flags import deprecated_alias, positive

if TYPE_CHECKING:
    from qsched.bench.runner import Record
    from qsched.cli.flags import Commands

#: What each of `SUITES` runs on (`qsched.bench.runner`).
SUITE_HELP = {
    "hcsp": "the published HCSP instances (Braun et al.'s 12 at 512 x 16, larger sets with "
    "--sizes): gaps to CPR and to the best known, per size",
    "braun": "Braun et al.'s 12 classes drawn anew at 1,024 x 32: gaps to proven bounds",
    "energy": "five energy-aware instances (DVFS, SPECpower, deadlines, a power cap)",
    "scale": "cluster-size instances, up to 20,000 tasks x 1,000 machines",
}


def add(commands: Commands) -> None:
    bench = commands.add_parser(
        "bench", help="solvers x instances x seeds of a suite, resumable, with a report"
    )
    suites = bench.add_subparsers(dest="suite", required=True, metavar="SUITE")
    flags = _suite_flags()
    for suite in SUITES:
        parser = suites.add_parser(suite, parents=[flags], help=SUITE_HELP[suite])
        parser.set_defaults(run=run)
        if suite == "hcsp":
            parser.add_argument(
                "--sizes",
                type=_sizes,
                default=(DEFAULT_SIZE,),
                metavar="TxM,...",
                help=f"comma-separated instance sizes, folders of DATA/hcsp/ "
                f"(shipped: {','.join(SIZES)}); records name an instance TxM/NAME, "
                f"bare at {DEFAULT_SIZE}",
            )
    add_qubo_suite(suites)


def _suite_flags() -> argparse.ArgumentParser:
    """The flags every suite but qubo takes."""
    flags = argparse.ArgumentParser(add_help=False)
    flags.add_argument(
        "--solvers",
        default="min-min,local-search,matheuristic,tabu-search,ga,pso,aco,milp,cpsat",
        help="comma-separated solver names (name@key=value+... runs one with options)",
    )
    flags.add_argument("--seeds", type=int, nargs="+", default=[0])
    flags.add_argument("--seconds", type=positive(float), help="wall-time budget per run")
    flags.add_argument("--evaluations", type=positive(int), help="evaluation budget per run")
    flags.add_argument(
        "--workers",
        type=positive(int),
        default=os.cpu_count() or 1,
        help="runs at once (one thread each; default: the CPU count)",
    )
    deprecated_alias(flags, "--jobs", "--workers")
    flags.add_argument(
        "--out",
        type=Path,
        help=f"JSON-lines records, appended; runs already there are skipped "
        f"(default: {RESULTS}/SUITE.jsonl)",
    )
    flags.add_argument(
        "--report",
        type=Path,
        help="also write the Markdown report here, and PNG figures next to it",
    )
    flags.add_argument("--data", type=Path, default=DATA, help="datasets directory")
    flags.add_argument(
        "--executor", choices=EXECUTORS, default="local", help="a local process pool, or Ray"
    )
    flags.add_argument(
        "--ray-address", help="the Ray cluster to join (default: start a local Ray instance)"
    )
    deprecated_alias(flags, "--address", "--ray-address")
    return flags


def _sizes(text: str) -> tuple[str, ...]:
    """An argparse type: `hcsp_suite.parse_sizes`, its error told as argparse's."""
    try:
        return parse_sizes(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def run(args: argparse.Namespace) -> int:
    """Append the runs ``--out`` lacks, then print (and with ``--report``, write) the report."""
    from qsched.bench import report as bench_report
    from qsched.bench import runner

    if args.seconds is None and args.evaluations is None:
        raise ValueError("give a budget per run: --seconds and/or --evaluations")
    if args.report:
        require_bench_extra()
    solvers = [name.strip() for name in args.solvers.split(",") if name.strip()]
    sizes = getattr(args, "sizes", None)  # the hcsp suite's
    records = runner.bench(
        args.suite,
        solvers,
        args.seeds,
        args.out or RESULTS / f"{args.suite}.jsonl",
        wall_seconds=args.seconds,
        evaluations=args.evaluations,
        jobs=args.workers,
        data=args.data,
        executor=args.executor,
        address=args.ray_address,
        sizes=sizes,
    )
    instances = set(runner.instances(args.suite, args.data, sizes))
    chosen = [r for r in records if r.solver in solvers and r.instance in instances]
    text = bench_report.report(args.suite, chosen, args.data)
    if args.report:
        args.report.write_text(text + "\n")
        figures = _figures(args.suite, chosen, args.data, args.report)
        print(
            f"report: {args.report}; figures: {', '.join(str(f) for f in figures)}", file=sys.stderr
        )
    print(text)
    return 0


def _figures(suite: str, records: list[Record], data: Path, report: Path) -> list[Path]:
    """The report's PNG figures, next to it."""
    from qsched.bench import plots
    from qsched.bench import report as bench_report

    figures = [plots.convergence(records, report.with_suffix(".convergence.png"))]
    if suite == "scale":
        figures.append(plots.scale(records, report.with_suffix(".scale.png")))
        return figures
    figures.append(plots.metrics(records, report.with_suffix(".metrics.png")))
    targets, label = bench_report.gap_targets(suite, records, data)
    if targets:
        panels = bench_report.hcsp_panels(records) if suite == "hcsp" else None
        figures.append(plots.gaps(records, targets, report.with_suffix(".gaps.png"), label, panels))
    return figures
