"""The ``qsched`` command: one module per subcommand, assembled here.

Each command module registers its subcommand (``add(commands)``) and runs it (``run(args)``,
set as the parser's ``run`` default); `main` turns the errors a user can cause into one line
on stderr and an exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys

import grpc

from qsched.cli import (
    bench,
    compare,
    demo,
    extender,
    gen,
    health,
    jobs,
    serve,
    solve,
    solvers,
    token,
)
from qsched.cli.demo import demo_verdict
from qsched.model import registry
from qsched.model.problem import ProblemError

__all__ = ["build_parser", "demo_verdict", "main"]

#: In the order ``qsched --help`` lists them.
COMMANDS = (demo, serve, health, token, extender, solve, compare, bench, gen, jobs, solvers)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qsched",
        description="Quantum-assisted scheduling of tasks onto heterogeneous machines.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        code: int = args.run(args)
        return code
    except ProblemError as error:
        print(f"qsched: {error}", file=sys.stderr)
        return 2
    except grpc.RpcError as error:
        print(f"qsched: server answered {error.code().name}: {error.details()}", file=sys.stderr)
        return 1
    except grpc.FutureTimeoutError:
        print("qsched: no server answered within 10 s", file=sys.stderr)
        return 1
    except registry.UnknownSolverError as error:
        print(f"qsched: {error}", file=sys.stderr)
        return 2
    except (OSError, ValueError, RuntimeError) as error:
        print(f"qsched: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
