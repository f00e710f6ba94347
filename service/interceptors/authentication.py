"""Authentication and authorization of every call, before its handler runs.

The interceptor finds the caller (bearer token or client certificate, `Authenticator`),
checks the `Permission` its method declares, and records the caller for the handler,
which reads it with `caller` (jobs belong to tenants: handlers filter by it). A call
without a valid credential ends UNAUTHENTICATED, one beyond its tenant's scopes
PERMISSION_DENIED, and the handler never runs.

The caller is kept in a context variable: grpc runs each call (its interceptors, its
handler and every step of its response stream) in a fresh `contextvars.Context`, so the
value is the call's own and is gone with it.
"""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
from typing import Any

import grpc
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

from qsched.service.auth import UNRESTRICTED, Authenticator, AuthError, Permission, Principal
from qsched.service.interceptors.wrapping import Behaviour, MethodInterceptor, after_check

_CALLER: contextvars.ContextVar[Principal] = contextvars.ContextVar("qsched_caller")


def caller() -> Principal:
    """Who made the call being handled, as the `AuthInterceptor` admitted it.

    Raises `LookupError` outside a call that passed the interceptor, so that a handler
    reached some other way fails instead of serving an unknown caller.
    """
    return _CALLER.get()


class AuthInterceptor(MethodInterceptor):
    """Admits each call by ``permissions[method name]``; every method of ``service`` must have
    one. Without an ``authenticator`` (no token file) every caller is `UNRESTRICTED`."""

    def __init__(
        self,
        service: ServiceDescriptor,
        permissions: Mapping[str, Permission],
        authenticator: Authenticator | None,
    ) -> None:
        super().__init__(service)
        undeclared = sorted(m.name for m in service.methods if m.name not in permissions)
        if undeclared:
            raise ValueError(f"no permission declared for {', '.join(undeclared)}")
        self._permissions = permissions
        self._authenticator = authenticator

    def wrap(self, method: MethodDescriptor, behaviour: Behaviour) -> Behaviour:
        permission = self._permissions[method.name]

        def admit(request: Any, context: grpc.ServicerContext) -> None:
            try:
                principal = (
                    UNRESTRICTED
                    if self._authenticator is None
                    else self._authenticator.authenticate(context)
                )
                permission.check(principal, request)
            except AuthError as error:
                context.abort(error.code, str(error))
            _CALLER.set(principal)

        return after_check(admit, behaviour, method.server_streaming)
