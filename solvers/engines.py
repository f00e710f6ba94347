"""Which QAOA engine class runs a circuit: the CPU engine, or its CUDA twin on ``gpu``.

Its own module so that neither engine imports the other, and numba.cuda is loaded only
when a GPU run asks for it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qsched.solvers.engine import QaoaEngine

if TYPE_CHECKING:
    from qsched.solvers.gpu_engine import GpuQaoaEngine


def engine_type(gpu: bool) -> type[QaoaEngine] | type[GpuQaoaEngine]:
    """`QaoaEngine`, or with ``gpu`` `gpu_engine.GpuQaoaEngine` (same constructor and
    methods), imported only then."""
    if not gpu:
        return QaoaEngine
    from qsched.solvers.gpu_engine import GpuQaoaEngine

    return GpuQaoaEngine
