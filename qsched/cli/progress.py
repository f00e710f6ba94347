"""A terminal progress bar for one solve: time against the wall budget, best objective so far."""

from __future__ import annotations

import sys

from tqdm import tqdm


class SolveProgress:
    """Shown on stderr when it is a terminal; silent otherwise (pipes, CI, ``--json``)."""

    def __init__(self, solver: str, wall_seconds: float | None, enabled: bool | None = None):
        enabled = sys.stderr.isatty() if enabled is None else enabled
        self._bar = tqdm(
            total=round(wall_seconds, 1) if wall_seconds else None,
            desc=solver,
            unit="s",
            disable=not enabled,
            leave=False,
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f}s{postfix}"
            if wall_seconds
            else "{desc}: {n:.1f}s{postfix}",
        )

    def update(
        self, elapsed: float, objective: float | None = None, feasible: bool | None = None
    ) -> None:
        if objective is not None:
            self._bar.set_postfix_str(
                f"best {objective:.6g}{'' if feasible else ' (infeasible)'}", refresh=False
            )
        total = self._bar.total
        self._bar.n = min(elapsed, total) if total else elapsed
        self._bar.refresh()

    def close(self) -> None:
        self._bar.close()
