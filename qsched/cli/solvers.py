"""``qsched solvers``: the solvers, or one solver with its options; this installation's, or a
server's (``ListSolvers``)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from qsched.cli.remote import add_server_flags, server_stub
from qsched.formats.messages import solver_info
from qsched.formats.report import solver_details, solvers_table
from qsched.model import registry
from qsched.v1 import scheduler_pb2

if TYPE_CHECKING:
    from qsched.cli.flags import Commands


def add(commands: Commands) -> None:
    solvers = commands.add_parser("solvers", help="list the solvers, or one solver's options")
    solvers.add_argument(
        "name", nargs="?", help="a solver: print its options with types, defaults and ranges"
    )
    add_server_flags(solvers, "ask a server instead of this installation")
    solvers.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.server:
        infos = list(server_stub(args).ListSolvers(scheduler_pb2.ListSolversRequest()).solvers)
    elif args.name:
        infos = [solver_info(registry.get(args.name))]
    else:
        infos = [solver_info(spec) for spec in registry.available()]
    if args.name:
        chosen = [info for info in infos if info.name == args.name]
        if not chosen:
            raise registry.UnknownSolverError(args.name)
        print(solver_details(chosen[0]))
    else:
        print(solvers_table(infos))
    return 0
