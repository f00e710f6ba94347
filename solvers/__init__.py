"""Quantum solvers: QUBO encoding, QAOA, VQE refinement and decomposition.

So far: `engine` (a statevector QAOA engine for diagonal costs, Numba
kernels), `circuit` (the same ansatz as a parameterized qiskit circuit) and
`p1` (depth-1 expectation values in closed form).
"""
