"""Problem files on disk: protobuf JSON of `AllocationProblem`, or an HCSP ETC instance (`hcsp`)."""

from __future__ import annotations

import re
from pathlib import Path

from google.protobuf import json_format
from google.protobuf.message import Message

from qsched.formats import hcsp
from qsched.model.problem import FieldViolation, Limits, Problem, ProblemError
from qsched.v1 import problem_pb2

#: The other form a problem file may take, for error messages that say what was expected.
JSON_FORM = "an AllocationProblem in protobuf JSON"


def read_message(path: Path | str) -> problem_pb2.AllocationProblem:
    """Read a problem file as the wire message: an ETC instance (`hcsp`) or protobuf JSON.

    A file that is neither raises `ProblemError` naming the file, both forms it could have
    taken, and what is wrong with it: a file whose first line starts with a number (or a
    compressed one) is read as an ETC instance and its fault is told as one (``header says
    2048x64 but the file has 131000 values``); any other as protobuf JSON."""
    path = Path(path)
    try:
        data = hcsp.read_bytes(path)
        if path.suffix in hcsp.COMPRESSIONS or _starts_with_a_number(data):
            return hcsp.read_problem(path)
    except ValueError as error:
        raise _unreadable(path, f"not a readable ETC instance: {_without(path, error)}") from None
    try:
        return json_format.Parse(data.decode(), problem_pb2.AllocationProblem())
    except (json_format.ParseError, UnicodeDecodeError) as error:
        raise _unreadable(path, f"not {JSON_FORM}: {error}") from None


def _starts_with_a_number(data: bytes) -> bool:
    """Whether the file's first word starts like a number: an ETC header, however malformed
    (protobuf JSON starts with ``{``)."""
    return re.match(rb"\s*[-+.\d]", data) is not None


def _without(path: Path, error: ValueError) -> str:
    """The error's message without the file name it starts with (the violation names it)."""
    return str(error).removeprefix(f"{path}: ")


def _unreadable(path: Path, fault: str) -> ProblemError:
    expected = f"expected {hcsp.ETC_FORM} or {JSON_FORM}"
    return ProblemError([FieldViolation(str(path), f"is {fault}; {expected}")])


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
