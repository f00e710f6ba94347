"""``qsched health``: exit 0 if a server answers gRPC health SERVING, or (``--http``) a URL
answers 200; for probes and scripts."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

import grpc

from qsched.cli.flags import positive
from qsched.cli.remote import add_server_flags, credentials
from qsched.service.config import DEFAULT_ADDRESS

if TYPE_CHECKING:
    from qsched.cli.flags import Commands


def add(commands: Commands) -> None:
    health = commands.add_parser(
        "health", help="exit 0 if a server (or, with --http, an extender) answers healthy"
    )
    add_server_flags(health, "the qsched server to ask", default=DEFAULT_ADDRESS)
    health.add_argument("--http", metavar="URL", help="check this URL instead (e.g. /healthz)")
    health.add_argument("--timeout", type=positive(float), default=5.0)
    health.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return http_health(args.http, args.timeout) if args.http else grpc_health(args)


def http_health(url: str, timeout: float) -> int:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            healthy = answer.status == 200
    except (urllib.error.URLError, OSError) as error:
        print(f"qsched: {url} did not answer: {error}", file=sys.stderr)
        return 1
    return 0 if healthy else 1


def grpc_health(args: argparse.Namespace) -> int:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from qsched.service.client import connect

    with connect(args.server, credentials(args), ready_timeout=None) as channel:
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
