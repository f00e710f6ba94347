"""Ending an optimizer loop from inside, when a solve's budget is spent or a stop is asked.

SciPy's and qiskit-algorithms' optimizers run to their iteration limit; the only way into
them is the objective or the callback they call on every step, so those raise `Stopped`
and the caller keeps the best answer it has (the solver contract: a stopped solve still
answers, promptly).
"""

from __future__ import annotations

from collections.abc import Callable

#: Asked on every optimizer step: True ends the loop.
Stop = Callable[[], bool]


class Stopped(Exception):
    """Raised through an optimizer's loop when its `Stop` says so."""


def raise_when(stop: Stop) -> Callable[..., None]:
    """A qiskit-algorithms callback (whatever it is passed) that raises `Stopped` once
    ``stop()`` is true."""

    def callback(*_: object) -> None:
        if stop():
            raise Stopped

    return callback
