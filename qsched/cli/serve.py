"""``qsched serve``: the gRPC service, until SIGINT or SIGTERM.

Every default comes from `ServiceConfig` (and its `Limits`), so a flag and the setting it
fills cannot disagree.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from qsched.cli.flags import MIB, deprecated_alias, positive
from qsched.service.config import DEFAULT_ADDRESS, EXECUTORS, ServiceConfig

if TYPE_CHECKING:
    from qsched.cli.flags import Commands
    from qsched.service.tls import ServerTLS

DEFAULTS = ServiceConfig()


def add(commands: Commands) -> None:
    serve = commands.add_parser("serve", help="run the gRPC service")
    serve.add_argument(
        "--listen",
        default=DEFAULT_ADDRESS,
        metavar="HOST:PORT",
        help="where to listen (port 0: any free port)",
    )
    deprecated_alias(serve, "--address", "--listen")
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
        "--metrics-listen", metavar="HOST:PORT", help="serve Prometheus /metrics here"
    )
    deprecated_alias(serve, "--metrics-address", "--metrics-listen")
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
    _add_limits(serve)
    serve.add_argument(
        "--executor",
        choices=EXECUTORS,
        default=DEFAULTS.executor,
        help="where solves run: warm worker processes here, or Ray tasks",
    )
    serve.add_argument(
        "--ray-address",
        default=DEFAULTS.ray_address,
        help="the Ray cluster to join (default: a local one)",
    )
    serve.add_argument(
        "--retain-days",
        type=positive(float),
        help="delete ended jobs older than this (default: keep them)",
    )
    serve.add_argument(
        "--max-jobs",
        type=positive(int),
        default=DEFAULTS.max_ended_jobs,
        help="keep at most this many ended jobs, the newest (default: all)",
    )
    serve.set_defaults(run=run)


def _add_limits(serve: argparse.ArgumentParser) -> None:
    """How much the service takes on: workers, queue, request sizes and budgets."""
    serve.add_argument(
        "--workers", type=positive(int), help="solves at once (default: the CPU count)"
    )
    limits = DEFAULTS.limits
    serve.add_argument(
        "--max-tasks", type=positive(int), default=limits.max_tasks, help="largest request"
    )
    serve.add_argument("--max-machines", type=positive(int), default=limits.max_machines)
    serve.add_argument(
        "--max-cells",
        type=positive(int),
        default=limits.max_cells,
        help="largest tasks x machines (each cell is 16 bytes of a worker's memory)",
    )
    serve.add_argument(
        "--default-seconds",
        type=positive(float),
        default=DEFAULTS.default_wall_seconds,
        help="wall budget when a request sets none",
    )
    serve.add_argument(
        "--max-seconds",
        type=positive(float),
        default=DEFAULTS.max_wall_seconds,
        help="longest wall budget allowed",
    )
    serve.add_argument(
        "--max-message-mb",
        type=positive(float),
        default=DEFAULTS.max_message_bytes / MIB,
        help="largest message (< 2048)",
    )
    serve.add_argument(
        "--max-queued",
        type=positive(int),
        default=DEFAULTS.max_queued_jobs,
        help="jobs waiting for a worker before SubmitJob answers RESOURCE_EXHAUSTED",
    )


def config(args: argparse.Namespace) -> ServiceConfig:
    """The `ServiceConfig` the flags describe."""
    from qsched.model.problem import Limits

    workers = {"workers": args.workers} if args.workers else {}  # None: the config's default
    return ServiceConfig(
        limits=Limits(
            max_tasks=args.max_tasks, max_machines=args.max_machines, max_cells=args.max_cells
        ),
        default_wall_seconds=args.default_seconds,
        max_wall_seconds=args.max_seconds,
        max_message_bytes=int(args.max_message_mb * MIB),
        max_queued_jobs=args.max_queued,
        retain_seconds=None if args.retain_days is None else args.retain_days * 86_400,
        executor=args.executor,
        ray_address=args.ray_address,
        max_ended_jobs=args.max_jobs,
        **workers,
    )


def run(args: argparse.Namespace) -> int:
    from qsched.service.auth import Authenticator
    from qsched.service.logs import use_json_logs
    from qsched.service.server import Server

    settings = config(args)
    if args.log_format == "json":
        use_json_logs()
    logging.getLogger().setLevel(logging.INFO)
    tls = server_tls(args)
    auth = Authenticator.from_file(Path(args.tokens)) if args.tokens else None
    if auth is not None and tls is None and args.insecure:
        logging.warning("bearer tokens over plaintext (--insecure): anyone on the path reads them")
    server = Server(
        args.listen,
        args.db,
        settings,
        tls,
        insecure=args.insecure,
        auth=auth,
        reflection_on=not args.no_reflection,
        metrics_address=args.metrics_listen,
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


def server_tls(args: argparse.Namespace) -> ServerTLS | None:
    """TLS from ``--tls-cert/--tls-key[/--tls-client-ca]``, or None (plaintext)."""
    from qsched.service.tls import ServerTLS

    if not (args.tls_cert or args.tls_key):
        if args.tls_client_ca:
            raise ValueError("--tls-client-ca needs --tls-cert and --tls-key")
        return None
    if not (args.tls_cert and args.tls_key):
        raise ValueError("--tls-cert and --tls-key go together")
    client_ca = Path(args.tls_client_ca) if args.tls_client_ca else None
    return ServerTLS(Path(args.tls_cert), Path(args.tls_key), client_ca)
