"""How qsched compiles its kernels with numba.

Cached on disk (next to the sources), so a new process loads them instead of
compiling; and with NumPy's float semantics (``error_model="numpy"``): a
division by zero gives inf or nan as in NumPy instead of raising, which
spares each division in a hot loop a check.
Numba compiles one version per argument type, and a read-only array is
another type than a writable one: `readonly` gives the problem's arrays to
the kernels as read-only views, so a problem that was pickled to a worker
process (which makes its arrays writable) runs the version already
compiled and cached instead of compiling another (half a minute).
Kernels release the GIL (``nogil``): a search with several workers runs them in
threads, which then use as many cores (they share the read-only problem and
nothing else). `inline` is for helpers of a few lines on the hottest paths: they are
inlined into their callers before compilation (larger ones would make
compiling slow; LLVM inlines those it finds worth it).
"""

from __future__ import annotations

import numba
import numpy as np

kernel = numba.njit(cache=True, error_model="numpy", nogil=True)
inline = numba.njit(cache=True, error_model="numpy", nogil=True, inline="always")


def readonly(array: np.ndarray) -> np.ndarray:
    """A read-only view of ``array``: what the kernels are compiled for."""
    view = array.view()
    view.setflags(write=False)
    return view
