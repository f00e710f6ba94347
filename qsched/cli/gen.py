"""``qsched gen``: a generated energy-aware instance as protobuf JSON."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from qsched.cli.flags import positive
from qsched.formats import files
from qsched.formats.generate import generate

if TYPE_CHECKING:
    from qsched.cli.flags import Commands


def add(commands: Commands) -> None:
    gen = commands.add_parser("gen", help="generate an energy-aware instance as protobuf JSON")
    gen.add_argument("--tasks", type=positive(int), required=True)
    gen.add_argument("--machines", type=positive(int), required=True)
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--name")
    gen.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    gen.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    message = generate(args.tasks, args.machines, args.seed, args.name)
    if args.output:
        files.write_message(message, args.output)
        print(
            f"wrote {args.output}: {args.tasks} tasks, {args.machines} machines, seed {args.seed}",
            file=sys.stderr,
        )
    else:
        print(files.to_json(message))
    return 0
