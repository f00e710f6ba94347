"""QAOA angle strategies: a fixed linear ramp, INTERP warm starts, and an optimizer loop.

- `linear_ramp`: gamma rises and beta falls linearly over the p layers, as a
  discretized annealing schedule; needs no optimizer (a good default for
  large p, e.g. Montanez-Barrera & Michielsen 2024).
- `interp`: the INTERP heuristic of Zhou et al. (PRX 2020): optimized angles
  at depth p, linearly interpolated to a starting point at depth p + 1.
- `optimize`: depth 1, 2, ..., p in turn, each started from `interp` of the
  previous optimum (depth 1 from the ramp) and refined by SciPy's COBYLA on
  the exact expectation value. Deterministic: no random restarts. A ``stop``
  callable ends it early (a solve's budget or stop signal), with the best angles
  evaluated so far.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from qsched.solvers.stopping import Stop, Stopped

#: One angle per QAOA layer (the gammas or the betas), as the engines and circuits take them.
Angles = Sequence[float] | npt.NDArray[np.float64]
#: <C> of the QAOA state at (gammas, betas).
Expectation = Callable[[npt.NDArray[np.float64], npt.NDArray[np.float64]], float]


def linear_ramp(
    depth: int, step: float = 0.75
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """gamma_k = step (k + 1/2) / p, beta_k = step (1 - (k + 1/2) / p), k = 0..p-1."""
    fractions = (np.arange(depth) + 0.5) / depth
    return step * fractions, step * (1 - fractions)


def interp(angles: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """INTERP: depth-p angles (one array, gamma or beta) to a depth-(p+1) start.

    new[i] = (i / p) old[i - 1] + ((p - i) / p) old[i] for i = 0..p, with
    old[-1] = old[p] = 0 (Zhou et al. 2020, 1-based there).
    """
    depth = len(angles)
    padded = np.concatenate(([0.0], angles, [0.0]))
    i = np.arange(depth + 1)
    return (i / depth) * padded[i] + ((depth - i) / depth) * padded[i + 1]


@dataclass(frozen=True)
class Optimized:
    gammas: npt.NDArray[np.float64]
    betas: npt.NDArray[np.float64]
    value: float
    evaluations: int


def optimize(
    expectation: Expectation,
    depth: int,
    max_evaluations: int = 200,
    step: float = 0.75,
    stop: Stop | None = None,
) -> Optimized:
    """Minimize <C> layer by layer up to ``depth`` with INTERP warm starts; at most
    ``max_evaluations`` expectation values per depth. Stopped early, the angles are the
    best of the depth it stopped in (never deeper than it got)."""
    *_, deepest = optimize_by_depth(expectation, depth, max_evaluations, step, stop)
    return deepest


def optimize_by_depth(
    expectation: Expectation,
    depth: int,
    max_evaluations: int = 200,
    step: float = 0.75,
    stop: Stop | None = None,
) -> Iterator[Optimized]:
    """`optimize`'s optimum at depth 1, 2, ..., ``depth`` in turn (``evaluations`` counts from
    depth 1), so a caller that wants every depth pays for the deepest one only. When ``stop``
    says so, the last depth yielded is the best point evaluated at it, and no deeper one
    follows."""
    from scipy.optimize import minimize  # half a second to import: only where angles are fitted

    evaluations = 0
    seen: tuple[float, npt.NDArray[np.float64]] | None = None

    def objective(angles: npt.NDArray[np.float64]) -> float:
        nonlocal evaluations, seen
        if stop is not None and seen is not None and stop():
            raise Stopped
        evaluations += 1
        half = angles.size // 2
        value = expectation(angles[:half], angles[half:])
        if seen is None or value < seen[0]:
            seen = (value, angles.copy())
        return value

    gammas, betas = linear_ramp(1, step)
    best = None
    for p in range(1, depth + 1):
        if best is not None:
            gammas, betas = interp(best.gammas), interp(best.betas)
        start = np.concatenate([gammas, betas])
        seen = None
        try:
            found = minimize(
                objective,
                start,
                method="COBYLA",
                options={"maxiter": max_evaluations, "rhobeg": 0.2},
            )
            angles = found.x if found.fun <= objective(start) else start
            value = float(objective(angles))
        except Stopped:
            assert seen is not None  # the first value of each depth is always evaluated
            value, angles = seen
            yield Optimized(angles[:p], angles[p:], float(value), evaluations)
            return
        best = Optimized(angles[:p], angles[p:], value, evaluations)
        yield best
