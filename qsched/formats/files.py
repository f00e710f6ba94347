"""Problem files on disk: protobuf JSON of `AllocationProblem`, or a Braun ETC instance."""

from __future__ import annotations

from pathlib import Path

from google.protobuf import json_format
from google.protobuf.message import Message

from qsched.formats import hcsp
from qsched.model.problem import FieldViolation, Limits, Problem, ProblemError
from qsched.v1 import problem_pb2


def read_message(path: Path | str) -> problem_pb2.AllocationProblem:
    """Read a problem file as the wire message; raises `ProblemError` for a malformed file."""
    path = Path(path)
    if hcsp.is_etc_file(path):
        return hcsp.read_problem(path)
    try:
        return json_format.Parse(path.read_text(), problem_pb2.AllocationProblem())
    except (json_format.ParseError, UnicodeDecodeError) as error:
        raise ProblemError(
            [FieldViolation(str(path), f"is not an AllocationProblem in protobuf JSON: {error}")]
        ) from None


def read_problem(path: Path | str, limits: Limits = Limits()) -> Problem:
    return Problem.from_message(read_message(path), limits)


def to_json(message: Message, *, with_defaults: bool = False) -> str:
    """Protobuf JSON with the .proto field names, as the dataset files are written.

    ``with_defaults`` also prints zero-valued fields (e.g. ``energy_joules: 0``),
    which reads better in results than a missing key.
    """
    return json_format.MessageToJson(
        message,
        preserving_proto_field_name=True,
        indent=1,
        always_print_fields_with_no_presence=with_defaults,
    )


def write_message(message: Message, path: Path | str) -> None:
    Path(path).write_text(to_json(message) + "\n")
