"""Unexpected exceptions out of a handler become a logged INTERNAL error, never a traceback."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from typing import Any, NoReturn

import grpc
from google.protobuf.descriptor import MethodDescriptor

from qsched.service.errors import status_code
from qsched.service.interceptors.wrapping import Behaviour, MethodInterceptor

log = logging.getLogger(__name__)


class InternalErrorInterceptor(MethodInterceptor):
    """Ends a call whose handler raised (other than by aborting) INTERNAL, naming the method;
    the traceback goes to the server log, not to the client."""

    def wrap(self, method: MethodDescriptor, behaviour: Behaviour) -> Behaviour:
        def fail(context: grpc.ServicerContext, error: Exception) -> NoReturn:
            if status_code(context) is not None:
                raise error  # an abort: grpc finishes the call with the code it set
            log.exception("%s failed", method.name, exc_info=error)
            context.abort(
                grpc.StatusCode.INTERNAL,
                f"internal error in {method.name}; the server log has the details",
            )

        if method.server_streaming:

            @functools.wraps(behaviour)
            def stream(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                try:
                    yield from behaviour(request, context)
                except Exception as error:
                    fail(context, error)

            return stream

        @functools.wraps(behaviour)
        def unary(request: Any, context: grpc.ServicerContext) -> Any:
            try:
                return behaviour(request, context)
            except Exception as error:
                fail(context, error)

        return unary
