"""Quantum solvers: QUBO encoding, QAOA, VQE refinement and decomposition.

So far: `engine` (a statevector QAOA engine for diagonal costs, Numba
kernels) and `circuit` (the same ansatz as a parameterized qiskit circuit).
"""
