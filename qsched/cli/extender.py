"""``qsched extender``: the Kubernetes scheduler extender (extender/v1 over HTTP), until SIGINT
or SIGTERM.

Every default comes from `ExtenderSettings` and its `PlannerSettings`, so a flag and the
setting it fills cannot disagree.
"""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING

from qsched.cli.flags import MIB, positive
from qsched.cli.remote import SERVING_CLIENT_CERTIFICATE, add_server_flags, credentials
from qsched.cli.solve_request import add_option_flag
from qsched.model.options import parse_pair
from qsched.service.extender.planner import PlannerSettings
from qsched.service.extender.settings import ExtenderSettings

if TYPE_CHECKING:
    from qsched.cli.flags import Commands

DEFAULTS = ExtenderSettings()
PLANNER = DEFAULTS.planner
#: The flags that only mean something with ``--server``, by destination.
CLIENT_FLAGS = {
    "tls_ca": "--tls-ca",
    "client_cert": SERVING_CLIENT_CERTIFICATE[0],
    "client_key": SERVING_CLIENT_CERTIFICATE[1],
    "token_file": "--token-file",
}


def add(commands: Commands) -> None:
    extender = commands.add_parser(
        "extender", help="run the Kubernetes scheduler extender (extender/v1 over HTTP)"
    )
    extender.add_argument(
        "--listen", default=DEFAULTS.listen, metavar="HOST:PORT", help="where to listen"
    )
    extender.add_argument("--prefix", default=DEFAULTS.prefix, help="path prefix of the verbs")
    extender.add_argument(
        "--tls-cert", metavar="FILE", help="serve HTTPS with this certificate (PEM)"
    )
    extender.add_argument("--tls-key", metavar="FILE", help="the certificate's private key (PEM)")
    add_server_flags(
        extender,
        "solve on this qsched gRPC server (default: in a worker process here)",
        client_certificate=SERVING_CLIENT_CERTIFICATE,
    )
    extender.add_argument(
        "--kubeconfig", help="API server to watch (default in a pod: its service account)"
    )
    extender.add_argument(
        "--bind", action="store_true", help="serve the bind verb (creates Bindings; needs RBAC)"
    )
    extender.add_argument(
        "--scheduler-name",
        default=DEFAULTS.scheduler_name,
        help="plan the pending pods with this schedulerName",
    )
    extender.add_argument("--seed", type=int, default=DEFAULTS.seed)
    extender.add_argument("--max-body-mb", type=positive(float), default=DEFAULTS.max_body / MIB)
    _add_planner_flags(extender)
    extender.set_defaults(run=run)


def _add_planner_flags(extender: argparse.ArgumentParser) -> None:
    """How pods are batched and each batch solved (`PlannerSettings`)."""
    extender.add_argument("--solver", default=PLANNER.solver, help="solver of each batch")
    add_option_flag(extender, "the solver's options (default for local-search: start=mct)")
    extender.add_argument(
        "--solve-seconds",
        type=positive(float),
        default=PLANNER.solve_seconds,
        help="wall budget of one plan (keep it well inside the scheduler's httpTimeout)",
    )
    extender.add_argument(
        "--batch-window",
        type=positive(float),
        default=PLANNER.batch_window,
        help="a batch is taken once no pod has arrived for this many seconds",
    )
    extender.add_argument(
        "--max-wait",
        type=positive(float),
        default=PLANNER.max_wait,
        help="...or this long after the first new pod, whichever comes first",
    )
    extender.add_argument("--max-batch", type=positive(int), default=PLANNER.max_batch)
    extender.add_argument(
        "--makespan-weight",
        type=positive(float),
        default=PLANNER.makespan_weight,
        help="objective weight per makespan second (default: the nodes' summed idle watts)",
    )


def settings(args: argparse.Namespace) -> ExtenderSettings:
    """The `ExtenderSettings` the flags describe."""
    if not args.server and (given := [f for d, f in CLIENT_FLAGS.items() if getattr(args, d)]):
        flags = ", ".join(given)
        raise ValueError(f"{flags} apply to --server: give --server too, or leave them out")
    return ExtenderSettings(
        listen=args.listen,
        prefix=args.prefix,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        server=args.server,
        credentials=credentials(args) if args.server else DEFAULTS.credentials,
        bind=args.bind,
        kubeconfig=args.kubeconfig,
        scheduler_name=args.scheduler_name,
        seed=args.seed,
        max_body=int(args.max_body_mb * MIB),
        planner=PlannerSettings(
            solver=args.solver,
            options=tuple(parse_pair(pair) for pair in args.option) or None,
            batch_window=args.batch_window,
            max_wait=args.max_wait,
            solve_seconds=args.solve_seconds,
            max_batch=args.max_batch,
            makespan_weight=args.makespan_weight,
        ),
    )


def run(args: argparse.Namespace) -> int:
    from qsched.service.extender.server import serve

    configured = settings(args)
    logging.getLogger().setLevel(logging.INFO)  # plans and the watch are worth seeing
    code: int = serve(configured)
    return code
