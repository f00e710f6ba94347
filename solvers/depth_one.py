"""Depth-1 QAOA expectation values in closed form, for any quadratic cost.

For an Ising cost ``sum_u h_u Z_u + sum_{u<v} J_uv Z_u Z_v`` the p = 1 state's
one- and two-qubit correlators have closed forms (Ozaeta, van Dam & McMahon,
"Expectation values from the single-layer QAOA on Ising problems", 2020):

    <Z_u>     = sin 2b sin(2g h_u) prod_{w != u} cos(2g J_uw)
    <Z_u Z_v> = sin 4b / 2 sin(2g J_uv) [cos(2g h_u) prod_{w != u,v} cos(2g J_uw)
                                          + cos(2g h_v) prod_{w != u,v} cos(2g J_vw)]
              - sin^2 2b / 2 [cos(2g (h_u + h_v)) prod_{w != u,v} cos(2g (J_uw + J_vw))
                              - cos(2g (h_u - h_v)) prod_{w != u,v} cos(2g (J_uw - J_vw))]

(with J as a dense symmetric matrix, absent couplings are 0 and their
cosines 1, which folds the paper's neighbourhood cases into one product).
So a p = 1 parameter search costs O(n^3) arithmetic at any n, with no state
vector. The QUBO over bits z in {0, 1} maps to Ising spins by z = (1 - s) / 2,
matching the engine's conventions (|0> has Z = +1); a test pins both to agree.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from qsched.solvers.engine import Qubo


def to_ising(qubo: Qubo) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], float]:
    """(h, J symmetric with zero diagonal, offset) with C(z) = offset + h.s + sum_{u<v} J_uv s_u
    s_v."""
    upper = np.triu(qubo.quadratic, 1)
    symmetric = upper + upper.T
    h = -qubo.linear / 2 - symmetric.sum(axis=1) / 4
    offset = qubo.constant + qubo.linear.sum() / 2 + upper.sum() / 4
    return h, symmetric / 4, float(offset)


def depth_one_expectation(qubo: Qubo, gamma: float, beta: float) -> float:
    """<C> of the depth-1 QAOA state with angles (gamma, beta), in closed form."""
    h, coupling, offset = to_ising(qubo)
    n = h.size
    cosines = np.cos(2 * gamma * coupling)  # (n, n); the diagonal is cos(0) = 1
    single = np.sin(2 * beta) * np.sin(2 * gamma * h) * np.prod(cosines, axis=1)
    total = offset + h @ single
    u, v = np.triu_indices(n, 1)
    weights = coupling[u, v]
    active = weights != 0
    u, v, weights = u[active], v[active], weights[active]
    if u.size:
        others = np.ones((u.size, n), dtype=bool)
        others[np.arange(u.size), u] = False
        others[np.arange(u.size), v] = False

        def product(matrix: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            rows: npt.NDArray[np.float64] = np.prod(np.where(others, matrix, 1.0), axis=1)
            return rows

        first = (
            np.sin(4 * beta)
            / 2
            * np.sin(2 * gamma * weights)
            * (
                np.cos(2 * gamma * h[u]) * product(cosines[u])
                + np.cos(2 * gamma * h[v]) * product(cosines[v])
            )
        )
        second = (
            np.sin(2 * beta) ** 2
            / 2
            * (
                np.cos(2 * gamma * (h[u] + h[v]))
                * product(np.cos(2 * gamma * (coupling[u] + coupling[v])))
                - np.cos(2 * gamma * (h[u] - h[v]))
                * product(np.cos(2 * gamma * (coupling[u] - coupling[v])))
            )
        )
        total += weights @ (first - second)
    return float(total)
