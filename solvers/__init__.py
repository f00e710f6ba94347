"""Quantum solvers, registered in `qsched.registry` on import.

`qaoa` (QUBO encoding, QAOA on the built-in engine or a qiskit backend,
decode / repair / polish, VQE refinement of the DVFS levels) and
`qaoa-reference` (the stock qiskit-algorithms QAOA with
MinimumEigenOptimizer, for side-by-side comparisons), and `hybrid` (QAOA on
windows of a classical schedule, for problems of any size, with a classical
ablation). The pieces:
`allocation` and `levels` (the quadratic programs), `qubo` (calibrated
penalties), `engine` (the statevector QAOA engine), `p1` (depth-1 closed
form), `parameters` (angle strategies), `circuit` and `backends` (the same
ansatz on real qiskit backends), `vqe` (level refinement).
"""

from qsched.solvers import hybrid, qaoa, reference

__all__ = ["hybrid", "qaoa", "reference"]
