"""The problem file, budget, seed, options and backend flags of ``solve`` and ``compare``, and
the `SolveRequest` they make."""

from __future__ import annotations

import argparse
from pathlib import Path

from google.protobuf import struct_pb2

from qsched.cli.flags import positive
from qsched.cli.remote import add_server_flags
from qsched.formats import files
from qsched.model.options import parse_pair
from qsched.solvers.backends import BACKEND_NAMES
from qsched.v1 import scheduler_pb2


def add_request_flags(parser: argparse.ArgumentParser, server_help: str, response: str) -> None:
    """The flags of a request, ``--server`` and its credentials, and ``--json`` (printing the
    ``response`` message)."""
    parser.add_argument("file", type=Path)
    parser.add_argument("--seconds", type=positive(float), help="wall-time budget (per solver)")
    parser.add_argument("--evaluations", type=positive(int), help="evaluation budget (per solver)")
    parser.add_argument("--seed", type=int, default=0)
    add_option_flag(parser, "solver option (repeatable)")
    parser.add_argument(
        "--backend",
        default="",
        help=f"quantum backend: {', '.join(BACKEND_NAMES)} (default: the solver's)",
    )
    add_server_flags(parser, server_help)
    parser.add_argument(
        "--json", action="store_true", help=f"print the {response} as protobuf JSON"
    )


def add_option_flag(parser: argparse.ArgumentParser, help: str) -> None:
    """``--option KEY=VALUE``, repeatable (`qsched.model.options.parse_pair` reads each)."""
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help=help)


def options_struct(pairs: list[str]) -> struct_pb2.Struct:
    """``--option`` pairs as a request's options."""
    options = struct_pb2.Struct()
    options.update(dict(parse_pair(pair) for pair in pairs))
    return options


def solve_request(args: argparse.Namespace, solver: str) -> scheduler_pb2.SolveRequest:
    """The request the flags of `add_request_flags` describe, for ``solver``."""
    return scheduler_pb2.SolveRequest(
        problem=files.read_message(args.file),
        solver=solver,
        budget=scheduler_pb2.Budget(
            wall_seconds=args.seconds or 0.0, evaluations=args.evaluations or 0
        ),
        seed=args.seed,
        options=options_struct(args.option),
        backend=args.backend,
    )
