"""gRPC errors with rich status details: field violations for bad input, never a traceback."""

from __future__ import annotations

from typing import NoReturn

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from qsched.formats.messages import invalid_status
from qsched.model.problem import FieldViolation


def status_code(context: grpc.ServicerContext) -> grpc.StatusCode | None:
    """The code the call ends with, once an abort (or ``set_code``) has set one."""
    # grpc's ServicerContext has code(); types-grpcio does not declare it
    code: grpc.StatusCode | None = context.code()  # type: ignore[attr-defined]
    return code


def abort_with(context: grpc.ServicerContext, status: status_pb2.Status) -> NoReturn:
    """End the call with ``status``, its details in the trailers (`grpc_status.rpc_status`)."""
    context.abort_with_status(rpc_status.to_status(status))


def abort_invalid(context: grpc.ServicerContext, violations: list[FieldViolation]) -> NoReturn:
    """INVALID_ARGUMENT with a `google.rpc.BadRequest` listing every bad field."""
    abort_with(context, invalid_status(violations))


def field_violations(error: grpc.RpcError) -> list[FieldViolation]:
    """Client side: the field violations carried by an INVALID_ARGUMENT error."""
    status = rpc_status.from_call(error)
    violations: list[FieldViolation] = []
    for detail in status.details if status else ():
        bad_request = error_details_pb2.BadRequest()
        if detail.Unpack(bad_request):
            violations.extend(
                FieldViolation(v.field, v.description) for v in bad_request.field_violations
            )
    return violations
