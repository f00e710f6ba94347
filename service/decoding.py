"""Request decoding that answers INVALID_ARGUMENT, not INTERNAL, for bytes that are no message.

grpc's generated registration decodes with ``FromString``: undecodable bytes
raise inside grpc, which logs a traceback and answers INTERNAL. Registering
the same methods (read off the service descriptor) with a decoder that
returns an `Undecodable` marker lets the call end INVALID_ARGUMENT with one
log line.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import DecodeError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Undecodable:
    """What a request decoded to when its bytes are not the method's message."""

    reason: str


#: Told each finished call: (method name, status code name, seconds).
Observer = Callable[[str, str, float], None]


def service_handler(
    service: ServiceDescriptor, servicer: Any, observe: Observer = lambda *call: None
) -> grpc.GenericRpcHandler:
    """Every method of ``service`` on ``servicer``, with forgiving decoders; ``observe``
    hears how each call ended and how long it took."""
    handlers = {}
    for method in service.methods:
        request_class = message_factory.GetMessageClass(method.input_type)
        response_class = message_factory.GetMessageClass(method.output_type)
        behaviour = _observed(
            _refusing_undecodable(
                getattr(servicer, method.name), method.full_name, method.server_streaming
            ),
            method.name,
            method.server_streaming,
            observe,
        )
        make = (
            grpc.unary_stream_rpc_method_handler
            if method.server_streaming
            else grpc.unary_unary_rpc_method_handler
        )
        handlers[method.name] = make(
            behaviour,
            request_deserializer=_decoder(request_class),
            response_serializer=response_class.SerializeToString,
        )
    return grpc.method_handlers_generic_handler(service.full_name, handlers)


def _observed(behaviour: Callable, name: str, streaming: bool, observe: Observer) -> Callable:
    """``behaviour``, reporting its status code and time: the code an abort set, else OK when
    it returned, CANCELLED when the client left a stream, UNKNOWN when it raised."""

    def report(context: grpc.ServicerContext, started: float, ended: grpc.StatusCode) -> None:
        observe(name, (context.code() or ended).name, time.perf_counter() - started)

    if streaming:

        @functools.wraps(behaviour)
        def stream(request: Any, context: grpc.ServicerContext) -> Any:
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


def _decoder(message_class: type) -> Callable[[bytes], Any]:
    def decode(data: bytes) -> Any:
        try:
            return message_class.FromString(data)
        except (DecodeError, RuntimeError, ValueError) as error:
            return Undecodable(f"{error.__class__.__name__}: {str(error)[:80]}")

    return decode


def _refusing_undecodable(behaviour: Callable, name: str, streaming: bool) -> Callable:
    def refuse(request: Undecodable, context: grpc.ServicerContext) -> None:
        log.warning("refused an undecodable request to %s (%s)", name, request.reason)
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"the request does not decode for {name}")

    if streaming:

        @functools.wraps(behaviour)
        def stream(request: Any, context: grpc.ServicerContext) -> Any:
            if isinstance(request, Undecodable):
                refuse(request, context)
            yield from behaviour(request, context)

        return stream

    @functools.wraps(behaviour)
    def unary(request: Any, context: grpc.ServicerContext) -> Any:
        if isinstance(request, Undecodable):
            refuse(request, context)
        return behaviour(request, context)

    return unary
