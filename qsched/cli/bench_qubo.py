"""``qsched bench qubo``: QAOA beside SA, tabu and random sampling on the same QUBOs
(`qsched.bench.qubo_runner`), with flags of its own.

Defaults come from `qsched.bench.qubo_settings.Settings`, except the instances' widths and
count, which only this command chooses.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from qsched.bench.qubo_settings import ENGINES, SAMPLERS, Settings
from qsched.cli.extras import require_bench_extra
from qsched.cli.flags import positive

if TYPE_CHECKING:
    from qsched.cli.flags import Commands

DEFAULTS = Settings()
#: The QUBO widths run unless ``--qubits`` says otherwise: what the CPU engine holds.
QUBITS = list(range(8, 23, 2))


def add(suites: Commands) -> None:
    qubo = suites.add_parser("qubo", help="QAOA, SA, tabu and random sampling on the same QUBOs")
    qubo.add_argument("--seeds", type=int, nargs="+", default=list(DEFAULTS.seeds))
    qubo.add_argument(
        "--out", type=Path, help="JSON-lines rows, appended; rows already there are skipped"
    )
    qubo.add_argument(
        "--qubits",
        type=_qubits,
        nargs="+",
        default=QUBITS,
        help="QUBO widths, 4 to 32 (QAOA on the CPU engine to 24)",
    )
    qubo.add_argument("--instances-per-size", type=positive(int), default=2)
    qubo.add_argument("--instance-seed", type=int, default=0, help="first problem seed searched")
    qubo.add_argument(
        "--depths", type=_depths, default=list(DEFAULTS.depths), help="QAOA depths: 1-5 or 1,3,5"
    )
    qubo.add_argument(
        "--shots", type=positive(int), default=DEFAULTS.shots, help="samples per sampler"
    )
    qubo.add_argument(
        "--noise",
        type=int,
        default=DEFAULTS.noise_qubits,
        help="noisy circuits up to this many qubits",
    )
    qubo.add_argument(
        "--noise-depths", type=_depths, default=list(DEFAULTS.noise_depths), help="their depths"
    )
    qubo.add_argument(
        "--x-mixer",
        type=int,
        default=DEFAULTS.x_mixer_qubits,
        help="X-mixer QAOA up to this many qubits",
    )
    qubo.add_argument("--engine", choices=ENGINES, default=DEFAULTS.engine, help="QAOA engine")
    qubo.add_argument(
        "--samplers",
        type=lambda text: text.split(","),
        default=list(DEFAULTS.samplers),
        help=f"comma-separated, of {','.join(SAMPLERS)}",
    )
    _add_instance_files(qubo)
    qubo.set_defaults(run=run)


def _add_instance_files(qubo: argparse.ArgumentParser) -> None:
    """Instances saved for, and rows from, a run elsewhere (a GPU machine)."""
    qubo.add_argument(
        "--instances", type=Path, metavar="DIR", help="run on saved instances, not --qubits"
    )
    qubo.add_argument(
        "--ground",
        type=Path,
        metavar="JSON",
        help="energy ranges and ground states of the saved instances, found on a GPU",
    )
    qubo.add_argument(
        "--merge", type=Path, action="append", default=[], help="rows from elsewhere (jsonl)"
    )
    qubo.add_argument(
        "--save-instances", type=Path, metavar="DIR", help="write the instances as .npz and stop"
    )


def run(args: argparse.Namespace) -> int:
    if not args.save_instances:
        require_bench_extra()  # the report's figure
    # Imported here: the engines take seconds to load, which no other command should pay.
    from qsched.bench.qubo_runner import main

    return main(args)


def _depths(text: str) -> list[int]:
    """An argparse type: ``1-5`` or ``1,3,5``."""
    try:
        if "-" in text:
            low, high = text.split("-", 1)
            parts = list(range(int(low), int(high) + 1))
        else:
            parts = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not 1-5 or 1,3,5") from None
    if not parts or min(parts) < 1:
        raise argparse.ArgumentTypeError(f"depths must be >= 1, got {text}")
    return parts


def _qubits(text: str) -> int:
    """An argparse type: a QUBO width from 4 (2 tasks on 2 machines) to 32 (the GPU's reach)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an int") from None
    if not 4 <= value <= 32:
        raise argparse.ArgumentTypeError(f"must be 4 to 32 qubits, got {text}")
    return value
