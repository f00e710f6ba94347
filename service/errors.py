"""gRPC errors with rich status details: field violations for bad input, never a traceback."""

from __future__ import annotations

import grpc
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from qsched.problem import FieldViolation, ProblemError


def abort_invalid(context: grpc.ServicerContext, violations: list[FieldViolation]) -> None:
    """INVALID_ARGUMENT with a `google.rpc.BadRequest` listing every bad field."""
    bad_request = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description) for v in violations
        ]
    )
    status = status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message=str(ProblemError(violations)))
    status.details.add().Pack(bad_request)
    context.abort_with_status(rpc_status.to_status(status))


def field_violations(error: grpc.RpcError) -> list[FieldViolation]:
    """Client side: the field violations carried by an INVALID_ARGUMENT error."""
    status = rpc_status.from_call(error)
    violations: list[FieldViolation] = []
    for detail in status.details if status else ():
        bad_request = error_details_pb2.BadRequest()
        if detail.Unpack(bad_request):
            violations.extend(FieldViolation(v.field, v.description) for v in bad_request.field_violations)
    return violations
