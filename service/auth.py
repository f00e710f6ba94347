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
``admin`` (every scope, and every tenant's jobs). Health checking needs none.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

SCOPES = ("submit", "read", "cancel", "hardware", "admin")
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
        identities = context.auth_context().get(
            "x509_common_name", []
        ) + context.auth_context().get("x509_subject_alternative_name", [])
        for identity in identities:
            principal = self.clients.get(identity.decode(errors="replace"))
            if principal is not None:
                return principal
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


class BearerToken(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Client side: adds ``authorization: Bearer <token>`` to every call (plaintext or TLS)."""

    def __init__(self, token: str) -> None:
        self._metadata = (("authorization", f"Bearer {token}"),)

    def _with_token(self, details: Any) -> Any:
        metadata = tuple(details.metadata or ()) + self._metadata
        return details._replace(metadata=metadata)

    def intercept_unary_unary(self, continuation: Callable, details: Any, request: Any) -> Any:
        return continuation(self._with_token(details), request)

    def intercept_unary_stream(self, continuation: Callable, details: Any, request: Any) -> Any:
        return continuation(self._with_token(details), request)
