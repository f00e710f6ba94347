"""Request decoding that answers INVALID_ARGUMENT, not INTERNAL, for bytes that are no message.

grpc decodes a request with the method's ``FromString`` before any code of ours runs:
undecodable bytes raise inside grpc, which logs a traceback and answers INTERNAL. This
interceptor gives each method a decoder that returns an `Undecodable` marker instead, and
ends such a call INVALID_ARGUMENT with one log line before the interceptors inside it (and
the handler) see a request.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import DecodeError

from qsched.service.interceptors.wrapping import (
    Behaviour,
    Deserializer,
    MethodInterceptor,
    after_check,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Undecodable:
    """What a request decoded to when its bytes are not the method's message."""

    reason: str


class DecodingInterceptor(MethodInterceptor):
    """Refuses undecodable requests with INVALID_ARGUMENT, naming the method."""

    def deserializer(self, decode: Deserializer) -> Deserializer:
        def decode_or_mark(data: bytes) -> Any:
            try:
                return decode(data)
            except (DecodeError, RuntimeError, ValueError) as error:
                return Undecodable(f"{error.__class__.__name__}: {str(error)[:80]}")

        return decode_or_mark

    def wrap(self, method: MethodDescriptor, behaviour: Behaviour) -> Behaviour:
        def refuse_undecodable(request: Any, context: grpc.ServicerContext) -> None:
            if isinstance(request, Undecodable):
                log.warning(
                    "refused an undecodable request to %s (%s)", method.full_name, request.reason
                )
                context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"the request does not decode for {method.full_name}",
                )

        return after_check(refuse_undecodable, behaviour, method.server_streaming)
