"""Resident memory of this process, for the benchmarks: the peak while a solve runs.

Linux keeps a process's peak resident size (``VmHWM`` in ``/proc/self/status``)
and lets the process reset it to the current size by writing ``5`` to
``/proc/self/clear_refs``; elsewhere `getrusage`'s lifetime peak stands in.
"""

from __future__ import annotations

import contextlib
import resource
import sys
from pathlib import Path

import numpy as np

from qsched.model.problem import Problem

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_bytes(field: str) -> int | None:
    with contextlib.suppress(OSError):
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024  # reported in kB
    return None


def current() -> int:
    """Resident bytes now (the lifetime peak where the current size is not available)."""
    now = _status_bytes("VmRSS")
    return now if now is not None else _lifetime_peak()


def reset_peak() -> int:
    """Start measuring the peak from now, where the system allows; returns resident bytes now."""
    with contextlib.suppress(OSError):
        _CLEAR_REFS.write_text("5")
    return current()


def peak() -> int:
    """Peak resident bytes since `reset_peak` (since the process started, where it cannot be
    reset)."""
    high = _status_bytes("VmHWM")
    return high if high is not None else _lifetime_peak()


def _lifetime_peak() -> int:
    maximum = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maximum if sys.platform == "darwin" else maximum * 1024  # bytes on macOS, kB elsewhere


def array_bytes(problem: Problem) -> int:
    """Bytes of the problem's own arrays (ETC, busy watts, demands, ...)."""
    return sum(value.nbytes for value in vars(problem).values() if isinstance(value, np.ndarray))
