"""The ``qsched`` command: demo, serve, solve, gen, jobs and solvers."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf import struct_pb2
from google.rpc import code_pb2, status_pb2

from qsched.cli.progress import SolveProgress
from qsched.formats import files
from qsched.formats.generate import generate
from qsched.formats.messages import failed_response, invalid_status, response_message, solver_info
from qsched.formats.report import (
    best_bound,
    results_table,
    schedule_summary,
    solver_details,
    solvers_table,
)
from qsched.model import registry
from qsched.model.options import parse_pair
from qsched.model.problem import Limits, ProblemError
from qsched.model.solver import ProgressEvent
from qsched.model.validation import (
    DEFAULT_WALL_SECONDS,
    MAX_WALL_SECONDS,
    SolveJob,
    problem_from,
    solve_job,
)
from qsched.v1 import scheduler_pb2, scheduler_pb2_grpc

if TYPE_CHECKING:
    #: What `build_parser`'s helpers add their commands to.
    Commands = argparse._SubParsersAction[argparse.ArgumentParser]

DEFAULT_ADDRESS = "127.0.0.1:50051"
#: Solvers the demo compares.
DEMO_SOLVERS = (
    "min-min",
    "max-min",
    "sufferage",
    "local-search",
    "tabu-search",
    "ga",
    "pso",
    "aco",
)
#: The demo's quantum part: a problem small enough for a simulated QUBO, and who solves it.
DEMO_QUANTUM_SHAPE = (5, 2)
STOCK_STACK = "qaoa-reference"
DEMO_QUANTUM_SOLVERS = ("min-min", "qaoa", STOCK_STACK, "exhaustive")


def _credentials(args: argparse.Namespace) -> Any:
    """`ClientCredentials` from the ``--tls-ca/--tls-cert/--tls-key/--token-file`` flags."""
    from qsched.service.client import ClientCredentials

    return ClientCredentials.from_files(args.tls_ca, args.tls_cert, args.tls_key, args.token_file)


def _stub(args: argparse.Namespace) -> scheduler_pb2_grpc.SchedulerServiceStub:
    """A stub on a ready channel to ``--server``, with the flags' credentials."""
    from qsched.service.client import scheduler_stub

    return scheduler_stub(args.server, _credentials(args))


def _add_client_tls(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tls-ca", metavar="FILE", help="talk TLS to --server, trusting this CA")
    parser.add_argument("--tls-cert", metavar="FILE", help="client certificate (mutual TLS)")
    parser.add_argument("--tls-key", metavar="FILE", help="the client certificate's key")
    parser.add_argument(
        "--token-file", metavar="FILE", help="bearer token for --server (else $QSCHED_TOKEN)"
    )


def _options(pairs: list[str]) -> struct_pb2.Struct:
    """``--option key=value`` pairs (`qsched.model.options.parse_pair`) as the request's Struct."""
    options = struct_pb2.Struct()
    options.update(dict(parse_pair(pair) for pair in pairs))
    return options


def _request(args: argparse.Namespace, solver: str) -> scheduler_pb2.SolveRequest:
    return scheduler_pb2.SolveRequest(
        problem=files.read_message(args.file),
        solver=solver,
        budget=scheduler_pb2.Budget(
            wall_seconds=args.seconds or 0.0, evaluations=args.evaluations or 0
        ),
        seed=args.seed,
        options=_options(args.option),
        backend=args.backend,
    )


def solve_locally(job: SolveJob, show_progress: bool | None = None) -> scheduler_pb2.SolveResponse:
    """Solve a validated job in this process; Ctrl-C stops it with the best so far."""
    stop = threading.Event()
    latest: list[ProgressEvent] = []
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = job.run(stop, latest.append)
        except Exception as error:  # re-raised in the main thread
            outcome["error"] = error

    bar = SolveProgress(
        job.solver, job.wall_seconds if job.evaluations is None else None, show_progress
    )
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    started = time.monotonic()
    try:
        while worker.is_alive():
            worker.join(0.1)
            if latest:
                bar.update(
                    time.monotonic() - started,
                    latest[-1].point.objective,
                    latest[-1].point.feasible,
                )
            else:
                bar.update(time.monotonic() - started)
    except KeyboardInterrupt:
        stop.set()
        worker.join()
    finally:
        bar.close()
    if "error" in outcome:
        raise outcome["error"]
    return response_message(job.problem, outcome["result"], job.backend)


def compare_locally(
    jobs: list[SolveJob], show_progress: bool | None = None
) -> scheduler_pb2.CompareResponse:
    """The jobs one after another, as the Compare RPC runs them: a solver that raises
    becomes an entry with its error, and the others still run."""
    comparison = scheduler_pb2.CompareResponse()
    for job in jobs:
        started = time.monotonic()
        try:
            comparison.results.append(solve_locally(job, show_progress))
        except Exception as error:
            if isinstance(error, ProblemError):
                status = invalid_status(error.violations)
            else:
                status = status_pb2.Status(
                    code=code_pb2.INTERNAL,
                    message=f"{job.solver} failed: {type(error).__name__}: {error}",
                )
            comparison.results.append(
                failed_response(job.solver, job.backend, status, time.monotonic() - started)
            )
    if (bound := best_bound(comparison.results)) is not None:
        comparison.best_bound = bound
    return comparison


def solve_remotely(
    stub: scheduler_pb2_grpc.SchedulerServiceStub,
    request: scheduler_pb2.SolveRequest,
    show_progress: bool | None = None,
) -> scheduler_pb2.SolveResponse:
    """Submit a job and watch it; Ctrl-C cancels it and keeps its best so far."""
    job = stub.SubmitJob(scheduler_pb2.SubmitJobRequest(request=request))
    bar = SolveProgress(job.solver, request.budget.wall_seconds or None, show_progress)
    try:
        for event in stub.WatchJob(scheduler_pb2.WatchJobRequest(job_id=job.id)):
            if event.HasField("progress"):
                point = event.progress
                bar.update(point.elapsed_seconds, point.objective, point.feasible)
    except KeyboardInterrupt:
        stub.CancelJob(scheduler_pb2.CancelJobRequest(job_id=job.id))
    finally:
        bar.close()
    ended: scheduler_pb2.Job = stub.GetJob(scheduler_pb2.GetJobRequest(job_id=job.id))
    if not ended.HasField("result"):
        state = scheduler_pb2.JobState.Name(ended.state)
        reason = ended.error or "no reason given"
        raise RuntimeError(f"job {ended.id} ended {state} without a schedule: {reason}")
    return ended.result


def _print_response(response: scheduler_pb2.SolveResponse, args: argparse.Namespace) -> None:
    if args.json:
        print(files.to_json(response, with_defaults=True))
        return
    print(results_table([response]))
    if args.schedule:
        print()
        print(schedule_summary(response))


def cmd_solve(args: argparse.Namespace) -> int:
    request = _request(args, args.solver)
    show = False if args.json else None
    if args.server:
        response = solve_remotely(_stub(args), request, show)
    else:
        response = solve_locally(solve_job(request, request.solver, problem_from(request)), show)
    _print_response(response, args)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Several solvers, one problem, one budget and seed; locally one after another, or via
    Compare."""
    solvers = [name.strip() for name in args.solvers.split(",") if name.strip()]
    request = _request(args, "")
    if args.server:
        compare = scheduler_pb2.CompareRequest(
            problem=request.problem,
            solvers=solvers,
            budget=request.budget,
            seed=request.seed,
            options=request.options,
            backend=request.backend,
        )
        comparison = _stub(args).Compare(compare)
    else:
        problem = problem_from(request)
        jobs = [
            solve_job(request, name, problem, path=f"solvers[{i}]", comparing=True)
            for i, name in enumerate(solvers)
        ]
        comparison = compare_locally(jobs, False if args.json else None)
    if args.json:
        print(files.to_json(comparison, with_defaults=True))
    else:
        print(results_table(comparison.results))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from qsched.service.config import ServiceConfig
    from qsched.service.server import Server

    workers = {"workers": args.workers} if args.workers else {}
    config = ServiceConfig(
        limits=Limits(
            max_tasks=args.max_tasks, max_machines=args.max_machines, max_cells=args.max_cells
        ),
        default_wall_seconds=args.default_seconds,
        max_wall_seconds=args.max_seconds,
        max_message_bytes=int(args.max_message_mb * 1024 * 1024),
        max_queued_jobs=args.max_queued,
        retain_seconds=None if args.retain_days is None else args.retain_days * 86_400,
        executor=args.executor,
        ray_address=args.ray_address,
        max_ended_jobs=args.max_jobs,
        **workers,
    )
    from qsched.service.auth import Authenticator
    from qsched.service.logs import use_json_logs

    if args.log_format == "json":
        use_json_logs()
    logging.getLogger().setLevel(logging.INFO)
    tls = _server_tls(args)
    auth = Authenticator.from_file(Path(args.tokens)) if args.tokens else None
    if auth is not None and tls is None and args.insecure:
        logging.warning("bearer tokens over plaintext (--insecure): anyone on the path reads them")
    server = Server(
        args.address,
        args.db,
        config,
        tls,
        insecure=args.insecure,
        auth=auth,
        reflection_on=not args.no_reflection,
        metrics_address=args.metrics_address,
    ).start()
    scheme = "plaintext" if tls is None else "mutual TLS" if tls.client_ca else "TLS"
    print(
        f"listening on {server.address}, {scheme} (jobs in {Path(args.db).resolve()})", flush=True
    )
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with contextlib.suppress(KeyboardInterrupt):
        stopped.wait()
    server.stop()
    return 0


def _server_tls(args: argparse.Namespace) -> Any:
    """`qsched.service.tls.ServerTLS` from ``--tls-cert/--tls-key[/--tls-client-ca]``, or None."""
    from qsched.service.tls import ServerTLS

    if not (args.tls_cert or args.tls_key):
        if args.tls_client_ca:
            raise ValueError("--tls-client-ca needs --tls-cert and --tls-key")
        return None
    if not (args.tls_cert and args.tls_key):
        raise ValueError("--tls-cert and --tls-key go together")
    client_ca = Path(args.tls_client_ca) if args.tls_client_ca else None
    return ServerTLS(Path(args.tls_cert), Path(args.tls_key), client_ca)


def cmd_health(args: argparse.Namespace) -> int:
    """0 if the service answers healthy: gRPC health SERVING, or (``--http``) HTTP 200."""
    if args.http:
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(args.http, timeout=args.timeout) as answer:
                healthy = answer.status == 200
        except (urllib.error.URLError, OSError) as error:
            print(f"qsched: {args.http} did not answer: {error}", file=sys.stderr)
            return 1
        return 0 if healthy else 1
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from qsched.service.client import connect

    with connect(args.server, _credentials(args), ready_timeout=None) as channel:
        try:
            status = (
                health_pb2_grpc.HealthStub(channel)
                .Check(health_pb2.HealthCheckRequest(), timeout=args.timeout)
                .status
            )
        except grpc.RpcError as error:
            print(f"qsched: {args.server} answered {error.code().name}", file=sys.stderr)
            return 1
    serving = status == health_pb2.HealthCheckResponse.SERVING
    print(health_pb2.HealthCheckResponse.ServingStatus.Name(status))
    return 0 if serving else 1


def cmd_token(args: argparse.Namespace) -> int:
    """A new random bearer token, and the digest the token file stores for it."""
    import secrets

    from qsched.service.auth import digest

    token = secrets.token_urlsafe(32)
    print(token)  # alone on the first line: `qsched token > f` makes a --token-file
    print(f"sha256 for the --tokens file: {digest(token)}", file=sys.stderr)
    return 0


def cmd_extender(args: argparse.Namespace) -> int:
    """The Kubernetes scheduler extender (HTTP), until SIGINT/SIGTERM."""
    from qsched.service.extender.planner import PlannerSettings
    from qsched.service.extender.server import ExtenderSettings, serve

    logging.getLogger().setLevel(logging.INFO)  # plans and the watch are worth seeing
    options = tuple(parse_pair(pair) for pair in args.option) or None
    settings = ExtenderSettings(
        listen=args.listen,
        prefix=args.prefix,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        server=args.server,
        bind=args.bind,
        kubeconfig=args.kubeconfig,
        scheduler_name=args.scheduler_name,
        seed=args.seed,
        max_body=int(args.max_body_mb * 2**20),
        planner=PlannerSettings(
            solver=args.solver,
            options=options,
            batch_window=args.batch_window,
            max_wait=args.max_wait,
            solve_seconds=args.solve_seconds,
            max_batch=args.max_batch,
            makespan_weight=args.makespan_weight,
        ),
    )
    code: int = serve(settings)
    return code


def cmd_bench(args: argparse.Namespace) -> int:
    """Solvers x instances x seeds of a suite; appends records to --out, prints (and writes) the
    report."""
    if args.suite == "qubo":
        # It runs solvers' engines and samplers, so it lives in qsched.solvers; the core names
        # it as the registry names solvers (and never imports a solver module itself).
        code: int = importlib.import_module("qsched.bench.qubo_runner").main(args)
        return code
    from qsched.bench import report as bench_report
    from qsched.bench import runner as bench

    if args.seconds is None and args.evaluations is None:
        raise ValueError("give a budget per run: --seconds and/or --evaluations")
    solvers = [name.strip() for name in args.solvers.split(",") if name.strip()]
    out = args.out or Path("benchmarks/results") / f"{args.suite}.jsonl"
    records = bench.bench(
        args.suite,
        solvers,
        args.seeds,
        out,
        wall_seconds=args.seconds,
        evaluations=args.evaluations,
        jobs=args.jobs,
        data=args.data,
        executor=args.executor,
        address=args.address,
    )
    chosen = [r for r in records if r.solver in solvers]
    text = bench_report.report(args.suite, chosen, args.data)
    if args.report:
        from qsched.bench import plots

        args.report.write_text(text + "\n")
        figures = [plots.convergence(chosen, args.report.with_suffix(".convergence.png"))]
        if args.suite == "scale":
            figures.append(plots.scale(chosen, args.report.with_suffix(".scale.png")))
        else:
            figures.append(plots.metrics(chosen, args.report.with_suffix(".metrics.png")))
            targets, label = bench_report.gap_targets(args.suite, chosen, args.data)
            if targets:
                figures.append(
                    plots.gaps(chosen, targets, args.report.with_suffix(".gaps.png"), label)
                )
        print(
            f"report: {args.report}; figures: {', '.join(str(f) for f in figures)}", file=sys.stderr
        )
    print(text)
    return 0


def cmd_gen(args: argparse.Namespace) -> int:
    message = generate(args.tasks, args.machines, args.seed, args.name)
    if args.output:
        files.write_message(message, args.output)
        print(
            f"wrote {args.output}: {args.tasks} tasks, {args.machines} machines, seed {args.seed}",
            file=sys.stderr,
        )
    else:
        print(files.to_json(message))
    return 0


def cmd_solvers(args: argparse.Namespace) -> int:
    """The solvers, or one solver with its options: this installation's, or a server's
    (`ListSolvers`)."""
    if args.server:
        infos = list(_stub(args).ListSolvers(scheduler_pb2.ListSolversRequest()).solvers)
    elif args.name:
        infos = [solver_info(registry.get(args.name))]
    else:
        infos = [solver_info(spec) for spec in registry.available()]
    if args.name:
        chosen = [info for info in infos if info.name == args.name]
        if not chosen:
            raise registry.UnknownSolverError(args.name)
        print(solver_details(chosen[0]))
    else:
        print(solvers_table(infos))
    return 0


def _job_line(job: scheduler_pb2.Job) -> str:
    state = scheduler_pb2.JobState.Name(job.state).removeprefix("JOB_STATE_").lower()
    best = f"best {job.progress.objective:.6g}" if job.HasField("progress") else ""
    created = job.created_time.ToDatetime().strftime("%Y-%m-%d %H:%M:%S")
    return (
        f"{job.id}  {state:<11}  {job.solver:<13}  {created}  {job.problem_name}  {best}".rstrip()
    )


def cmd_jobs(args: argparse.Namespace) -> int:
    stub = _stub(args)
    if args.action == "list":
        state = f"JOB_STATE_{args.state.upper()}" if args.state else "JOB_STATE_UNSPECIFIED"
        listing = stub.ListJobs(scheduler_pb2.ListJobsRequest(state=state, page_size=args.limit))
        for job in listing.jobs:
            print(files.to_json(job, with_defaults=True) if args.json else _job_line(job))
        return 0
    if not args.job_id:
        raise ValueError(f"jobs {args.action} needs a job id")
    if args.action == "watch":
        for event in stub.WatchJob(scheduler_pb2.WatchJobRequest(job_id=args.job_id)):
            if event.HasField("job"):
                print(_job_line(event.job), flush=True)
            else:
                point = event.progress
                best = f"best {point.objective:.6g}  {point.stage}"
                print(
                    f"  {point.elapsed_seconds:8.2f}s  {point.evaluations:>9} evals  {best}",
                    flush=True,
                )
        return 0
    call = stub.GetJob if args.action == "get" else stub.CancelJob
    request = (
        scheduler_pb2.GetJobRequest(job_id=args.job_id)
        if args.action == "get"
        else scheduler_pb2.CancelJobRequest(job_id=args.job_id)
    )
    job = call(request)
    if args.json:
        print(files.to_json(job, with_defaults=True))
    else:
        print(_job_line(job))
        if job.error:
            print(f"error: {job.error}")
        if job.HasField("result"):
            print(results_table([job.result]))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Start a server on a free loopback port, send it a generated problem, compare solvers;
    the exit code is `demo_verdict`'s."""
    from qsched.service.client import scheduler_stub
    from qsched.service.server import Server

    problem = generate(args.tasks, args.machines, args.seed)
    with (
        tempfile.TemporaryDirectory() as scratch,
        Server("127.0.0.1:0", Path(scratch) / "jobs.db") as server,
    ):
        print(
            f"qsched server on {server.address}; problem {problem.name}: {args.tasks} tasks, "
            f"{args.machines} machines, power cap {problem.power_cap_watts:.0f} W"
        )
        stub = scheduler_stub(server.address)
        request = scheduler_pb2.CompareRequest(
            problem=problem,
            solvers=list(DEMO_SOLVERS),
            budget=scheduler_pb2.Budget(evaluations=args.evaluations),
            seed=args.seed,
        )
        classical = stub.Compare(request, timeout=600).results
        print(results_table(classical))
        solved = [r for r in classical if not r.HasField("error")]
        if solved:
            best = min(
                solved,
                key=lambda r: (not r.schedule.metrics.feasible, r.schedule.metrics.objective),
            )
            print(f"\nbest: {best.solver}\n")
            print(schedule_summary(best))

        small = generate(*DEMO_QUANTUM_SHAPE, args.seed)
        print(
            f"\nquantum: problem {small.name}, {len(small.tasks)} tasks, {len(small.machines)} "
            f"machines (qaoa on the built-in engine, {STOCK_STACK} on qiskit-aer, "
            "exhaustive = the optimum)"
        )
        quantum = scheduler_pb2.CompareRequest(
            problem=small,
            solvers=list(DEMO_QUANTUM_SOLVERS),
            seed=args.seed,
            budget=scheduler_pb2.Budget(wall_seconds=120),
        )
        quantum_results = stub.Compare(quantum, timeout=600).results
        print(results_table(quantum_results))
    code, verdict = demo_verdict([*classical, *quantum_results])
    if verdict:
        print(f"\n{verdict}", file=sys.stderr if code else sys.stdout)
    return code


def demo_verdict(results: Sequence[scheduler_pb2.SolveResponse]) -> tuple[int, str]:
    """The demo's exit code and what it says about failed solvers: a failure of one of
    qsched's own solvers fails the demo; the stock qiskit stack's is reported, not an error."""
    failed = [r.solver for r in results if r.HasField("error")]
    own = [solver for solver in failed if solver != STOCK_STACK]
    if own:
        return 1, f"qsched: {', '.join(own)} failed (see the table)"
    if failed:
        stock = f"The stock qiskit stack ({STOCK_STACK}) failed on this problem (see the table)"
        return 0, f"{stock}; qsched's own solvers did not."
    return 0, ""


def _positive(kind: type[int] | type[float]) -> Callable[[str], float]:
    """An argparse type: a number of ``kind`` that is > 0."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value

    parse.__name__ = kind.__name__
    return parse


def _add_solve_arguments(parser: argparse.ArgumentParser, server_help: str, response: str) -> None:
    """The problem file, budget, seed, options, server and output flags of `solve` and `compare`."""
    parser.add_argument("file", type=Path)
    parser.add_argument("--seconds", type=_positive(float), help="wall-time budget (per solver)")
    parser.add_argument("--evaluations", type=_positive(int), help="evaluation budget (per solver)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="solver option (repeatable)",
    )
    parser.add_argument(
        "--backend",
        default="",
        help="quantum backend: engine, aer, aer-noisy, fake_<device>, ibm:<device>",
    )
    parser.add_argument("--server", metavar="ADDR", help=server_help)
    _add_client_tls(parser)
    parser.add_argument(
        "--json", action="store_true", help=f"print the {response} as protobuf JSON"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qsched",
        description="Quantum-assisted scheduling of tasks onto heterogeneous machines.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for add in (
        _add_demo_and_serve,
        _add_extender,
        _add_solve_and_compare,
        _add_bench_and_gen,
        _add_server_queries,
    ):
        add(commands)
    return parser


def _add_demo_and_serve(commands: Commands) -> None:
    demo = commands.add_parser(
        "demo", help="start a local server and solve a generated problem through it"
    )
    demo.add_argument("--tasks", type=_positive(int), default=40)
    demo.add_argument("--machines", type=_positive(int), default=6)
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument(
        "--evaluations", type=_positive(int), default=20000, help="evaluation budget per solver"
    )
    demo.set_defaults(run=cmd_demo)

    serve = commands.add_parser("serve", help="run the gRPC service")
    serve.add_argument(
        "--address", default=DEFAULT_ADDRESS, help="host:port to listen on (port 0: any free port)"
    )
    serve.add_argument("--db", default="qsched.db", help="SQLite file for jobs")
    serve.add_argument("--tls-cert", metavar="FILE", help="serve TLS with this certificate (PEM)")
    serve.add_argument("--tls-key", metavar="FILE", help="the certificate's private key (PEM)")
    serve.add_argument(
        "--tls-client-ca", metavar="FILE", help="require client certificates this CA signed (mTLS)"
    )
    serve.add_argument(
        "--tokens",
        metavar="FILE",
        help="bearer tokens and client identities -> tenants and scopes (JSON; see README)",
    )
    serve.add_argument(
        "--no-reflection", action="store_true", help="do not serve gRPC server reflection"
    )
    serve.add_argument(
        "--metrics-address", metavar="HOST:PORT", help="serve Prometheus /metrics here"
    )
    serve.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="json: one object per line, with job_id, tenant and solver where they apply",
    )
    serve.add_argument(
        "--insecure",
        action="store_true",
        help="allow plaintext on a non-loopback address (without TLS qsched serves loopback only)",
    )
    serve.add_argument("--workers", type=_positive(int), help="solves at once (default: CPU count)")
    serve.add_argument(
        "--max-tasks", type=_positive(int), default=Limits.max_tasks, help="largest request"
    )
    serve.add_argument("--max-machines", type=_positive(int), default=Limits.max_machines)
    serve.add_argument(
        "--max-cells",
        type=_positive(int),
        default=Limits.max_cells,
        help="largest tasks x machines (each cell is 16 bytes of a worker's memory)",
    )
    serve.add_argument(
        "--default-seconds",
        type=_positive(float),
        default=DEFAULT_WALL_SECONDS,
        help="wall budget when a request sets none",
    )
    serve.add_argument(
        "--max-seconds",
        type=_positive(float),
        default=MAX_WALL_SECONDS,
        help="longest wall budget allowed",
    )
    serve.add_argument(
        "--max-message-mb", type=_positive(float), default=64.0, help="largest message (< 2048)"
    )
    serve.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help="where solves run: warm worker processes here, or Ray tasks",
    )
    serve.add_argument("--ray-address", help="the Ray cluster to join (default: a local one)")
    serve.add_argument(
        "--retain-days",
        type=_positive(float),
        help="delete ended jobs older than this (default: keep them)",
    )
    serve.add_argument(
        "--max-jobs", type=_positive(int), help="keep at most this many ended jobs, the newest"
    )
    serve.add_argument(
        "--max-queued",
        type=_positive(int),
        default=1000,
        help="jobs waiting for a worker before SubmitJob answers RESOURCE_EXHAUSTED",
    )
    serve.set_defaults(run=cmd_serve)

    health = commands.add_parser(
        "health", help="exit 0 if a server (or, with --http, an extender) answers healthy"
    )
    health.add_argument("--server", default=DEFAULT_ADDRESS, metavar="ADDR")
    _add_client_tls(health)
    health.add_argument("--http", metavar="URL", help="check this URL instead (e.g. /healthz)")
    health.add_argument("--timeout", type=_positive(float), default=5.0)
    health.set_defaults(run=cmd_health)

    token = commands.add_parser(
        "token", help="make a bearer token and the SHA-256 digest a --tokens file lists"
    )
    token.set_defaults(run=cmd_token)


def _add_extender(commands: Commands) -> None:
    extender = commands.add_parser(
        "extender", help="run the Kubernetes scheduler extender (extender/v1 over HTTP)"
    )
    extender.add_argument("--listen", default="127.0.0.1:8888", help="host:port to listen on")
    extender.add_argument("--prefix", default="/scheduler", help="path prefix of the verbs")
    extender.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
    extender.add_argument("--tls-key", help="the certificate's private key (PEM)")
    extender.add_argument("--server", help="solve on this qsched gRPC server (default: in-process)")
    extender.add_argument(
        "--kubeconfig", help="API server to watch (default in a pod: its service account)"
    )
    extender.add_argument(
        "--bind", action="store_true", help="serve the bind verb (creates Bindings; needs RBAC)"
    )
    extender.add_argument(
        "--scheduler-name", default="qsched", help="plan the pending pods with this schedulerName"
    )
    extender.add_argument("--solver", default="local-search", help="solver of each batch")
    extender.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="the solver's options (default for local-search: start=mct)",
    )
    extender.add_argument(
        "--solve-seconds",
        type=_positive(float),
        default=1.0,
        help="wall budget of one plan (keep it well inside the scheduler's httpTimeout)",
    )
    extender.add_argument(
        "--batch-window",
        type=_positive(float),
        default=0.25,
        help="a batch is taken once no pod has arrived for this many seconds",
    )
    extender.add_argument(
        "--max-wait",
        type=_positive(float),
        default=2.0,
        help="...or this long after the first new pod, whichever comes first",
    )
    extender.add_argument("--max-batch", type=_positive(int), default=10_000)
    extender.add_argument(
        "--makespan-weight",
        type=_positive(float),
        help="objective weight per makespan second (default: the nodes' summed idle watts)",
    )
    extender.add_argument("--seed", type=int, default=0)
    extender.add_argument("--max-body-mb", type=_positive(float), default=32.0)
    extender.set_defaults(run=cmd_extender)


def _add_solve_and_compare(commands: Commands) -> None:
    solve = commands.add_parser("solve", help="solve a problem file (protobuf JSON or Braun ETC)")
    solve.add_argument("--solver", default="min-min")
    _add_solve_arguments(solve, "solve through a qsched server instead of locally", "SolveResponse")
    solve.add_argument("--schedule", action="store_true", help="also print the per-machine plan")
    solve.set_defaults(run=cmd_solve)

    compare = commands.add_parser(
        "compare", help="several solvers on one problem at one budget, side by side"
    )
    compare.add_argument(
        "--solvers",
        default="min-min,tabu-search,ga,pso,aco,milp,cpsat",
        help="comma-separated solver names",
    )
    _add_solve_arguments(compare, "compare on a qsched server (the Compare RPC)", "CompareResponse")
    compare.set_defaults(run=cmd_compare)


def _add_bench_and_gen(commands: Commands) -> None:
    bench = commands.add_parser(
        "bench", help="solvers x instances x seeds of a suite, resumable, with a report"
    )
    bench.add_argument("suite", choices=("hcsp", "braun", "energy", "scale", "qubo"))
    bench.add_argument(
        "--solvers",
        default="min-min,local-search,tabu-search,ga,pso,aco,milp,cpsat",
        help="comma-separated solver names",
    )
    bench.add_argument("--seeds", type=int, nargs="+", default=[0])
    bench.add_argument("--seconds", type=_positive(float), help="wall-time budget per run")
    bench.add_argument("--evaluations", type=_positive(int), help="evaluation budget per run")
    bench.add_argument(
        "--jobs",
        type=_positive(int),
        default=os.cpu_count() or 1,
        help="runs at once (one thread each)",
    )
    bench.add_argument(
        "--out", type=Path, help="JSON-lines records, appended; runs already there are skipped"
    )
    bench.add_argument(
        "--report",
        type=Path,
        help="also write the Markdown report here, and PNG figures next to it",
    )
    bench.add_argument("--data", type=Path, default=Path("datasets"), help="datasets directory")
    bench.add_argument(
        "--executor", choices=("local", "ray"), default="local", help="a local process pool, or Ray"
    )
    bench.add_argument(
        "--address", help="Ray cluster address (default: start a local Ray instance)"
    )
    _add_qubo_bench(bench)
    bench.set_defaults(run=cmd_bench)

    gen = commands.add_parser("gen", help="generate an energy-aware instance as protobuf JSON")
    gen.add_argument("--tasks", type=_positive(int), required=True)
    gen.add_argument("--machines", type=_positive(int), required=True)
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--name")
    gen.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    gen.set_defaults(run=cmd_gen)


def _depths(text: str) -> list[int]:
    """An argparse type: ``1-5`` or ``1,3,5``."""
    try:
        if "-" in text:
            low, high = text.split("-", 1)
            parts = list(range(int(low), int(high) + 1))
        else:
            parts = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not 1-5 or 1,3,5") from None
    if not parts or min(parts) < 1:
        raise argparse.ArgumentTypeError(f"depths must be >= 1, got {text}")
    return parts


def _qubits(text: str) -> int:
    """An argparse type: a QUBO width from 4 (2 tasks on 2 machines) to 32 (the GPU's reach)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an int") from None
    if not 4 <= value <= 32:
        raise argparse.ArgumentTypeError(f"must be 4 to 32 qubits, got {text}")
    return value


def _add_qubo_bench(bench: argparse.ArgumentParser) -> None:
    """The ``qubo`` suite's flags (`qsched.bench.qubo_runner`; it shares --seeds and --out)."""
    qubo = bench.add_argument_group("qubo suite (QAOA, SA, tabu, random on the same QUBOs)")
    qubo.add_argument(
        "--qubits",
        type=_qubits,
        nargs="+",
        default=list(range(8, 23, 2)),
        help="QUBO widths, 4 to 32 (QAOA on the CPU engine to 24)",
    )
    qubo.add_argument("--instances-per-size", type=_positive(int), default=2)
    qubo.add_argument("--instance-seed", type=int, default=0, help="first problem seed searched")
    qubo.add_argument("--depths", type=_depths, default=[1, 2, 3, 4, 5], help="QAOA depths: 1-5")
    qubo.add_argument("--shots", type=_positive(int), default=1000, help="samples per sampler")
    qubo.add_argument("--noise", type=int, default=10, help="noisy circuits up to this many qubits")
    qubo.add_argument("--noise-depths", type=_depths, default=[1, 3, 5], help="their depths")
    qubo.add_argument("--x-mixer", type=int, default=16, help="X-mixer QAOA up to this many qubits")
    qubo.add_argument("--engine", choices=("cpu", "gpu"), default="cpu", help="QAOA engine")
    qubo.add_argument(
        "--samplers",
        type=lambda text: text.split(","),
        default=["qaoa", "sa", "tabu", "random", "noisy"],
        help="comma-separated, of qaoa,sa,tabu,random,noisy",
    )
    qubo.add_argument(
        "--instances", type=Path, metavar="DIR", help="run on saved instances, not --qubits"
    )
    qubo.add_argument(
        "--ground",
        type=Path,
        metavar="JSON",
        help="energy ranges and ground states of the saved instances, found on a GPU",
    )
    qubo.add_argument(
        "--merge", type=Path, action="append", default=[], help="rows from elsewhere (jsonl)"
    )
    qubo.add_argument(
        "--save-instances", type=Path, metavar="DIR", help="write the instances as .npz and stop"
    )


def _add_server_queries(commands: Commands) -> None:
    """`jobs` and `solvers`."""
    jobs = commands.add_parser("jobs", help="list, get, watch or cancel jobs on a server")
    jobs.add_argument("action", choices=("list", "get", "watch", "cancel"))
    jobs.add_argument("job_id", nargs="?")
    jobs.add_argument("--server", default=DEFAULT_ADDRESS, metavar="ADDR")
    _add_client_tls(jobs)
    jobs.add_argument(
        "--state", choices=("queued", "running", "succeeded", "failed", "cancelled", "interrupted")
    )
    jobs.add_argument("--limit", type=_positive(int), default=50)
    jobs.add_argument("--json", action="store_true")
    jobs.set_defaults(run=cmd_jobs)

    solvers = commands.add_parser("solvers", help="list the solvers, or one solver's options")
    solvers.add_argument(
        "name", nargs="?", help="a solver: print its options with types, defaults and ranges"
    )
    solvers.add_argument(
        "--server", metavar="ADDR", help="ask a server instead of this installation"
    )
    _add_client_tls(solvers)
    solvers.set_defaults(run=cmd_solvers)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        code: int = args.run(args)
        return code
    except ProblemError as error:
        print(f"qsched: {error}", file=sys.stderr)
        return 2
    except grpc.RpcError as error:
        print(f"qsched: server answered {error.code().name}: {error.details()}", file=sys.stderr)
        return 1
    except grpc.FutureTimeoutError:
        print("qsched: no server answered within 10 s", file=sys.stderr)
        return 1
    except registry.UnknownSolverError as error:
        print(f"qsched: {error}", file=sys.stderr)
        return 2
    except (OSError, ValueError, RuntimeError) as error:
        print(f"qsched: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
