"""The shape every qsched server interceptor shares: wrap the behaviour of one service's methods.

gRPC's own interceptor examples wrap a method's behaviour by building a new
`grpc.RpcMethodHandler` around the one the next interceptor returns; this does that once,
for the unary and the server-streaming methods a service has, and leaves every other
service (health checking, reflection) as it is.
"""

from __future__ import annotations

import abc
import functools
from collections.abc import Callable, Iterator
from typing import Any, TypeAlias

import grpc
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

#: What a method does with one request: ``(request, context) -> response``, or an iterator
#: of responses for a server-streaming method.
Behaviour: TypeAlias = Callable[[Any, grpc.ServicerContext], Any]
#: Bytes -> request message.
Deserializer: TypeAlias = Callable[[bytes], Any]


class MethodInterceptor(grpc.ServerInterceptor, abc.ABC):
    """Wraps the behaviour of each method of ``service``; calls to other services pass by."""

    def __init__(self, service: ServiceDescriptor) -> None:
        streaming = [method.name for method in service.methods if method.client_streaming]
        if streaming:  # a stream of requests would reach the wrappers as an iterator
            raise ValueError(
                f"{type(self).__name__} wraps methods that take one request; "
                f"{service.full_name} streams requests to {', '.join(streaming)}"
            )
        self._service = f"/{service.full_name}"
        self._methods = service.methods_by_name

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = continuation(handler_call_details)
        service, _, name = handler_call_details.method.rpartition("/")
        method = self._methods.get(name) if service == self._service else None
        if handler is None or method is None:
            return handler
        if handler.response_streaming:
            behaviour, make = handler.unary_stream, grpc.unary_stream_rpc_method_handler
        else:
            behaviour, make = handler.unary_unary, grpc.unary_unary_rpc_method_handler
        if behaviour is None:
            raise TypeError(f"{handler_call_details.method}'s handler has no behaviour")
        decode = handler.request_deserializer
        return make(
            self.wrap(method, behaviour),
            request_deserializer=None if decode is None else self.deserializer(decode),
            response_serializer=handler.response_serializer,
        )

    @abc.abstractmethod
    def wrap(self, method: MethodDescriptor, behaviour: Behaviour) -> Behaviour:
        """``behaviour`` of ``method`` with this interceptor's concern around it (a generator
        function when ``method.server_streaming``)."""

    def deserializer(self, decode: Deserializer) -> Deserializer:
        """How the wrapped method reads its request bytes: as the method did, unless an
        interceptor needs otherwise."""
        return decode


def after_check(
    check: Callable[[Any, grpc.ServicerContext], None], behaviour: Behaviour, streaming: bool
) -> Behaviour:
    """``behaviour`` run only after ``check(request, context)``, which ends a call it refuses by
    aborting it; for a server-streaming ``behaviour``, a generator that checks on the first
    response asked for, as the handler itself would."""
    if streaming:

        @functools.wraps(behaviour)
        def stream(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            check(request, context)
            yield from behaviour(request, context)

        return stream

    @functools.wraps(behaviour)
    def unary(request: Any, context: grpc.ServicerContext) -> Any:
        check(request, context)
        return behaviour(request, context)

    return unary
