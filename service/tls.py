"""TLS for the gRPC service: server credentials (optionally mutual) and client credentials.

Without TLS the server refuses to listen anywhere but loopback unless the
operator says ``--insecure``: a plaintext port reachable from the network
would let anyone who reaches it read and submit jobs.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc


@dataclass(frozen=True)
class ServerTLS:
    """The server's certificate chain and key (PEM); with ``client_ca``, clients must present
    a certificate that CA signed (mutual TLS)."""

    cert: Path
    key: Path
    client_ca: Path | None = None

    def credentials(self) -> grpc.ServerCredentials:
        return grpc.ssl_server_credentials(
            [(self.key.read_bytes(), self.cert.read_bytes())],
            root_certificates=self.client_ca.read_bytes() if self.client_ca else None,
            require_client_auth=self.client_ca is not None,
        )


@dataclass(frozen=True)
class ClientTLS:
    """What a client trusts (``ca``; None: the system's roots) and, for mutual TLS, the
    client's own certificate chain and key (PEM)."""

    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None

    def __post_init__(self) -> None:
        if (self.cert is None) != (self.key is None):
            raise ValueError("a client certificate and its key go together (--tls-cert, --tls-key)")

    def credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca.read_bytes() if self.ca else None,
            private_key=self.key.read_bytes() if self.key else None,
            certificate_chain=self.cert.read_bytes() if self.cert else None,
        )


def channel(
    address: str, tls: ClientTLS | None, options: list[tuple[str, Any]] | None = None
) -> grpc.Channel:
    """A channel to ``address``: TLS when ``tls`` is given, plaintext otherwise."""
    if tls is None:
        return grpc.insecure_channel(address, options=options)
    return grpc.secure_channel(address, tls.credentials(), options=options)


def is_loopback(address: str) -> bool:
    """Whether ``host:port`` names only this machine (``localhost``, 127.0.0.0/8, ``[::1]``)."""
    host = address.rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a hostname, or empty (all interfaces)
