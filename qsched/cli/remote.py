"""``--server`` and its credentials: the flags of every command that talks to a qsched server.

One helper for all of them, so that TLS, mutual TLS and a bearer token are given the same
way to ``solve``, ``compare``, ``jobs``, ``solvers``, ``health`` and ``extender``.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qsched.service.client import ClientCredentials
    from qsched.v1 import scheduler_pb2_grpc

#: The flags of a client certificate (mutual TLS). ``extender`` serves HTTPS with
#: ``--tls-cert/--tls-key``, as ``serve`` does, so its client certificate has these names.
CLIENT_CERTIFICATE = ("--tls-cert", "--tls-key")
SERVING_CLIENT_CERTIFICATE = ("--tls-client-cert", "--tls-client-key")


def add_server_flags(
    parser: argparse.ArgumentParser,
    server_help: str,
    *,
    default: str | None = None,
    client_certificate: tuple[str, str] = CLIENT_CERTIFICATE,
) -> None:
    """``--server`` and ``--tls-ca``, a client certificate and ``--token-file`` for it."""
    parser.add_argument("--server", metavar="ADDR", default=default, help=server_help)
    parser.add_argument("--tls-ca", metavar="FILE", help="talk TLS to --server, trusting this CA")
    cert, key = client_certificate
    parser.add_argument(
        cert, dest="client_cert", metavar="FILE", help="client certificate for --server (mTLS)"
    )
    parser.add_argument(key, dest="client_key", metavar="FILE", help="its private key")
    parser.add_argument(
        "--token-file", metavar="FILE", help="bearer token for --server (else $QSCHED_TOKEN)"
    )


def credentials(args: argparse.Namespace) -> ClientCredentials:
    """What the flags of `add_server_flags` say to show the server."""
    from qsched.service.client import ClientCredentials

    return ClientCredentials.from_files(
        args.tls_ca, args.client_cert, args.client_key, args.token_file
    )


def server_stub(args: argparse.Namespace) -> scheduler_pb2_grpc.SchedulerServiceStub:
    """A stub on a ready channel to ``--server``, with the flags' credentials."""
    from qsched.service.client import scheduler_stub

    return scheduler_stub(args.server, credentials(args))
