"""Per-call metrics: every call's method, status code and duration, told to an observer."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

from qsched.service.errors import status_code
from qsched.service.interceptors.wrapping import Behaviour, MethodInterceptor

#: Told each finished call: (method name, status code name, seconds).
Observer = Callable[[str, str, float], None]


class MetricsInterceptor(MethodInterceptor):
    """Reports how each call ended and how long it took: the code an abort set, else OK
    when the handler returned, CANCELLED when the client left a stream, UNKNOWN when the
    handler raised."""

    def __init__(self, service: ServiceDescriptor, observe: Observer) -> None:
        super().__init__(service)
        self._observe = observe

    def wrap(self, method: MethodDescriptor, behaviour: Behaviour) -> Behaviour:
        def report(context: grpc.ServicerContext, started: float, ended: grpc.StatusCode) -> None:
            code = status_code(context) or ended
            self._observe(method.name, code.name, time.perf_counter() - started)

        if method.server_streaming:

            @functools.wraps(behaviour)
            def stream(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                started, ended = time.perf_counter(), grpc.StatusCode.UNKNOWN
                try:
                    yield from behaviour(request, context)
                    ended = grpc.StatusCode.OK
                except GeneratorExit:
                    ended = grpc.StatusCode.CANCELLED
                    raise
                finally:
                    report(context, started, ended)

            return stream

        @functools.wraps(behaviour)
        def unary(request: Any, context: grpc.ServicerContext) -> Any:
            started, ended = time.perf_counter(), grpc.StatusCode.UNKNOWN
            try:
                answer = behaviour(request, context)
                ended = grpc.StatusCode.OK
                return answer
            finally:
                report(context, started, ended)

        return unary
