"""``qsched token``: a new random bearer token, and the digest a ``--tokens`` file lists."""

from __future__ import annotations

import argparse
import secrets
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qsched.cli.flags import Commands


def add(commands: Commands) -> None:
    token = commands.add_parser(
        "token", help="make a bearer token and the SHA-256 digest a --tokens file lists"
    )
    token.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from qsched.service.auth import digest

    token = secrets.token_urlsafe(32)
    print(token)  # alone on the first line: `qsched token > f` makes a --token-file
    print(f"sha256 for the --tokens file: {digest(token)}", file=sys.stderr)
    return 0
