"""Who is calling: bearer tokens or mutual-TLS client identities, mapped to tenants and scopes.

The token file (``qsched serve --tokens FILE``) is JSON::

    {"tenants": [
        {"name": "team-a", "scopes": ["submit", "read", "cancel"],
         "tokens_sha256": ["<hex SHA-256 of a token>"], "clients": ["team-a-ci"]},
        {"name": "ops", "scopes": ["admin"], "tokens_sha256": ["..."]}
    ]}

Only tokens' SHA-256 digests are stored, and a presented token is hashed and
compared with every digest in constant time (`hmac.compare_digest`), so the
file leaks no token and timing leaks no prefix. ``clients`` are certificate
identities (subject common name or subject alternative name) accepted under
mutual TLS. Scopes: ``submit`` (Solve, Compare, SubmitJob), ``read`` (GetJob,
WatchJob, ListJobs, ListSolvers), ``cancel`` (CancelJob), ``hardware``
(quantum hardware backends, ``ibm:<device>``, which spend real money), and
``admin`` (every scope, and every tenant's jobs), as `SCHEDULER_PERMISSIONS` declares
them for the interceptor that enforces them. Health checking and reflection need none.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import grpc
from google.protobuf import struct_pb2

SCOPES = ("submit", "read", "cancel", "hardware", "admin")
_Request = TypeVar("_Request")
_Response = TypeVar("_Response")

#: Backends that run on real quantum hardware (and need the ``hardware`` scope).
HARDWARE_PREFIX = "ibm:"


@dataclass(frozen=True)
class Principal:
    """A caller: its tenant and what it may do."""

    tenant: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes

    @property
    def sees_all(self) -> bool:
        """Whether it sees every tenant's jobs (admin)."""
        return "admin" in self.scopes

    @property
    def job_tenant(self) -> str | None:
        """The tenant whose jobs it may see; None: all."""
        return None if self.sees_all else self.tenant


#: Everyone, when the server runs without a token file (loopback or an operator's choice).
UNRESTRICTED = Principal("", frozenset({"admin"}))


class AuthError(Exception):
    """Why a call is refused: ``code`` is UNAUTHENTICATED or PERMISSION_DENIED."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Authenticator:
    """Token digests and client identities -> principals."""

    tokens: tuple[tuple[bytes, Principal], ...]
    clients: Mapping[str, Principal]

    @classmethod
    def from_file(cls, path: Path) -> Authenticator:
        """Read a token file; `ValueError` names what is wrong (never echoing a token)."""
        try:
            document = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise ValueError(f"cannot read the token file {path}: {error}") from None
        tenants = document.get("tenants") if isinstance(document, dict) else None
        if not isinstance(tenants, list):
            raise ValueError(f"{path}: needs a list `tenants`")
        tokens: list[tuple[bytes, Principal]] = []
        clients: dict[str, Principal] = {}
        for i, entry in enumerate(tenants):
            where = f"{path}: tenants[{i}]"
            if not isinstance(entry, dict):
                raise ValueError(f"{where} must be an object")
            name, scopes = entry.get("name"), entry.get("scopes", [])
            if not isinstance(name, str) or not name:
                raise ValueError(f"{where}.name must be a non-empty string")
            if not isinstance(scopes, list) or not all(scope in SCOPES for scope in scopes):
                raise ValueError(f"{where}.scopes must be a list of {', '.join(SCOPES)}")
            principal = Principal(name, frozenset(scopes))
            for digest in _strings(entry.get("tokens_sha256", []), f"{where}.tokens_sha256"):
                try:
                    raw = bytes.fromhex(digest)
                except ValueError:
                    raw = b""
                if len(raw) != hashlib.sha256().digest_size:
                    raise ValueError(f"{where}.tokens_sha256: not a hex SHA-256 digest")
                if any(raw == known for known, _ in tokens):
                    raise ValueError(f"{where}.tokens_sha256: a digest listed twice")
                tokens.append((raw, principal))
            for client in _strings(entry.get("clients", []), f"{where}.clients"):
                clients[client] = principal
        return cls(tuple(tokens), clients)

    def authenticate(self, context: grpc.ServicerContext) -> Principal:
        """The caller of ``context``, by its bearer token or else its client certificate."""
        token = _bearer(context.invocation_metadata())
        if token is not None:
            presented = hashlib.sha256(token.encode()).digest()
            found = None
            for digest, principal in self.tokens:  # no early exit: constant time in the match
                if hmac.compare_digest(digest, presented):
                    found = principal
            if found is None:
                raise AuthError(grpc.StatusCode.UNAUTHENTICATED, "the bearer token is not valid")
            return found
        # types-grpcio types each property as bytes; grpc gives a list of them per name
        properties: Mapping[str, list[bytes]] = context.auth_context()  # type: ignore[assignment]
        for name in ("x509_common_name", "x509_subject_alternative_name"):
            for identity in properties.get(name, []):
                client = self.clients.get(identity.decode(errors="replace"))
                if client is not None:
                    return client
        raise AuthError(
            grpc.StatusCode.UNAUTHENTICATED,
            "no credentials: send `authorization: Bearer <token>` or a known client certificate",
        )


def require(principal: Principal, scope: str, what: str) -> None:
    if not principal.allows(scope):
        raise AuthError(
            grpc.StatusCode.PERMISSION_DENIED,
            f"tenant {principal.tenant!r} lacks the {scope!r} scope needed to {what}",
        )


class NamesBackends(Protocol):
    """A request that names backends (Solve, Compare): its ``backend`` field and a ``backend``
    solver option (quantum solvers take either)."""

    backend: str
    options: struct_pb2.Struct


def _backends(request: NamesBackends) -> list[str]:
    options = request.options  # a protobuf Struct: `in` and [], no get()
    option = options["backend"] if "backend" in options else ""  # noqa: SIM401
    return [name for name in (request.backend, option) if isinstance(name, str)]


def _no_backends(request: object) -> list[str]:
    return []


@dataclass(frozen=True)
class Permission:
    """What calling a method takes: ``scope``, named in a refusal as the ``action`` it allows;
    ``backends`` reads the backends the request names, and one on quantum hardware takes the
    ``hardware`` scope as well."""

    scope: str
    action: str
    backends: Callable[[Any], list[str]] = _no_backends

    def check(self, principal: Principal, request: Any) -> None:
        """Raise `AuthError` (PERMISSION_DENIED) unless ``principal`` may make this call."""
        require(principal, self.scope, self.action)
        if any(name.startswith(HARDWARE_PREFIX) for name in self.backends(request)):
            require(principal, "hardware", f"run on quantum hardware ({HARDWARE_PREFIX}...)")


#: What each `SchedulerService` method takes, by method name.
SCHEDULER_PERMISSIONS: Mapping[str, Permission] = {
    "Solve": Permission("submit", "solve", _backends),
    "Compare": Permission("submit", "compare solvers", _backends),
    "SubmitJob": Permission("submit", "submit jobs", lambda submit: _backends(submit.request)),
    "GetJob": Permission("read", "read jobs"),
    "WatchJob": Permission("read", "watch jobs"),
    "CancelJob": Permission("cancel", "cancel jobs"),
    "ListJobs": Permission("read", "list jobs"),
    "ListSolvers": Permission("read", "list solvers"),
}


def digest(token: str) -> str:
    """The hex SHA-256 of a token, as the token file stores it."""
    return hashlib.sha256(token.encode()).hexdigest()


def _bearer(metadata: Iterable[Any] | None) -> str | None:
    for key, value in metadata or ():
        if key == "authorization":
            scheme, _, token = str(value).partition(" ")
            if scheme.lower() == "bearer" and token:
                return token.strip()
            return ""  # present but not a bearer token: never matches
    return None


def _strings(value: object, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{where} must be a list of non-empty strings")
    return value


@dataclass(frozen=True)
class _CallDetails(grpc.ClientCallDetails):
    """A call's details as a client interceptor passes them on (grpc's own are private)."""

    method: str
    timeout: float | None
    metadata: tuple[tuple[str, str | bytes], ...] | None
    credentials: grpc.CallCredentials | None
    wait_for_ready: bool | None
    compression: grpc.Compression | None


class BearerToken(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Client side: adds ``authorization: Bearer <token>`` to every call (plaintext or TLS)."""

    def __init__(self, token: str) -> None:
        self._metadata = (("authorization", f"Bearer {token}"),)

    def _with_token(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        return _CallDetails(
            details.method,
            details.timeout,
            tuple(details.metadata or ()) + self._metadata,
            details.credentials,
            details.wait_for_ready,
            details.compression,
        )

    def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.ClientCallDetails, _Request], _Response],
        client_call_details: grpc.ClientCallDetails,
        request: _Request,
    ) -> _Response:
        return continuation(self._with_token(client_call_details), request)

    def intercept_unary_stream(
        self,
        continuation: Callable[[grpc.ClientCallDetails, _Request], _Response],
        client_call_details: grpc.ClientCallDetails,
        request: _Request,
    ) -> _Response:
        return continuation(self._with_token(client_call_details), request)
