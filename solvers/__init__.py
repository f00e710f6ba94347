"""Quantum solvers: QUBO encoding, QAOA, VQE refinement and decomposition."""
