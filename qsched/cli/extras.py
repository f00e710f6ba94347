"""Optional extras a command needs, checked before it starts rather than after a long run."""

from __future__ import annotations

import importlib.util


class MissingExtra(RuntimeError):
    """A command needs a package of an extra that is not installed."""


def require_bench_extra() -> None:
    """Benchmark reports draw figures with matplotlib, which comes with ``qsched[bench]``."""
    if importlib.util.find_spec("matplotlib") is None:
        raise MissingExtra(
            "benchmark figures need matplotlib, which is not installed: pip install 'qsched[bench]'"
        )
