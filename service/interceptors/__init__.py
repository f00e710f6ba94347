"""gRPC server interceptors: what every `SchedulerService` call goes through around its handler.

`for_service` fixes their order, outermost first: `MetricsInterceptor` (counts and times
every call, refused ones included), `InternalErrorInterceptor` (what raises inside ends
INTERNAL, never a traceback), `DecodingInterceptor` (bytes that are no message end
INVALID_ARGUMENT before anything reads them), `AuthInterceptor` (admits the caller by the
scope its method needs; the handler reads it with `caller`). Health checking and reflection
pass through them untouched.
"""

from __future__ import annotations

from collections.abc import Mapping

import grpc
from google.protobuf.descriptor import ServiceDescriptor

from qsched.service.auth import Authenticator, Permission
from qsched.service.interceptors.authentication import AuthInterceptor
from qsched.service.interceptors.decoding import DecodingInterceptor
from qsched.service.interceptors.failures import InternalErrorInterceptor
from qsched.service.interceptors.metrics import MetricsInterceptor, Observer


def for_service(
    service: ServiceDescriptor,
    permissions: Mapping[str, Permission],
    authenticator: Authenticator | None,
    observe: Observer,
) -> list[grpc.ServerInterceptor]:
    """The interceptors of ``service``'s calls, outermost first (`grpc.server` runs them in
    list order)."""
    return [
        MetricsInterceptor(service, observe),
        InternalErrorInterceptor(service),
        DecodingInterceptor(service),
        AuthInterceptor(service, permissions, authenticator),
    ]
