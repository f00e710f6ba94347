"""Quantum solvers: QUBO encoding, QAOA, VQE refinement and decomposition.

So far: `engine` (a statevector QAOA engine for diagonal costs, Numba
kernels), `circuit` (the same ansatz as a parameterized qiskit circuit),
`p1` (depth-1 expectation values in closed form) and `parameters` (linear
ramp, INTERP warm starts, and a COBYLA optimizer loop).
"""
