"""How qsched compiles its kernels with numba.

Cached on disk (next to the sources), so a new process loads them instead of
compiling; and with NumPy's float semantics (``error_model="numpy"``): a
division by zero gives inf or nan as in NumPy instead of raising, which
spares each division in a hot loop a check that measured ~150 ns per call.
`inline` is for helpers of a few lines on the hottest paths: they are
inlined into their callers before compilation (larger ones would make
compiling slow; LLVM inlines those it finds worth it).
"""

from __future__ import annotations

import numba

kernel = numba.njit(cache=True, error_model="numpy")
inline = numba.njit(cache=True, error_model="numpy", inline="always")
