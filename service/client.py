"""How every client reaches a qsched server: one factory for the channel and its security.

The CLI, ``qsched extender --server``, the benchmark scripts and the tests all connect
through `connect`, so TLS, mutual TLS and bearer tokens work the same everywhere (a client
that built its own channel once could not reach a server that required them).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from qsched.service.auth import BearerToken
from qsched.service.tls import ClientTLS, channel
from qsched.v1 import scheduler_pb2_grpc

#: Where a token comes from when no token file is given (never a flag: ``ps`` shows flags).
TOKEN_VARIABLE = "QSCHED_TOKEN"


@dataclass(frozen=True)
class ClientCredentials:
    """What a client shows a server: TLS settings (None: plaintext) and a bearer token."""

    tls: ClientTLS | None = None
    token: str | None = None

    @classmethod
    def from_files(
        cls,
        tls_ca: str | Path | None = None,
        tls_cert: str | Path | None = None,
        tls_key: str | Path | None = None,
        token_file: str | Path | None = None,
    ) -> ClientCredentials:
        """From the ``--tls-ca/--tls-cert/--tls-key/--token-file`` flags every client command
        takes: TLS when any certificate file is given; the token is the token file's first
        word, else ``$QSCHED_TOKEN``."""
        paths = (tls_ca, tls_cert, tls_key)
        tls = ClientTLS(*(Path(p) if p else None for p in paths)) if any(paths) else None
        if token_file:
            words = Path(token_file).read_text().split()
            token = words[0] if words else None
        else:
            token = os.environ.get(TOKEN_VARIABLE) or None
        return cls(tls, token)


def connect(
    address: str,
    credentials: ClientCredentials = ClientCredentials(),
    *,
    ready_timeout: float | None = 10.0,
    options: Sequence[tuple[str, Any]] | None = None,
) -> grpc.Channel:
    """A channel to ``address`` with ``credentials``; with ``ready_timeout``, it waits that
    long for the connection (a `grpc.FutureTimeoutError` names an unreachable server at once
    instead of at the first call's deadline)."""
    opened = channel(address, credentials.tls, list(options) if options else None)
    if ready_timeout is not None:
        grpc.channel_ready_future(opened).result(timeout=ready_timeout)
    if credentials.token:
        return grpc.intercept_channel(opened, BearerToken(credentials.token))
    return opened


def scheduler_stub(
    address: str,
    credentials: ClientCredentials = ClientCredentials(),
    *,
    ready_timeout: float | None = 10.0,
) -> scheduler_pb2_grpc.SchedulerServiceStub:
    """A `SchedulerService` stub on `connect`'s channel."""
    return scheduler_pb2_grpc.SchedulerServiceStub(
        connect(address, credentials, ready_timeout=ready_timeout)
    )
