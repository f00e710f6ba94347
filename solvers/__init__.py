"""Quantum solvers.

`qaoa` (QUBO encoding, QAOA on the built-in engine or a qiskit backend,
decode / repair / polish, VQE refinement of the DVFS levels) and
`qaoa-reference` (the stock qiskit-algorithms QAOA with
MinimumEigenOptimizer, for side-by-side comparisons), and `hybrid` (QAOA on
windows of a classical schedule, for problems of any size, with a classical
ablation). The pieces:
`allocation` and `levels` (the quadratic programs), `qubo` (calibrated
penalties), `engine` (the statevector QAOA engine), `depth_one` (depth-1 closed
form), `parameters` (angle strategies), `circuit` and `backends` (the same
ansatz on real qiskit backends), `vqe` (level refinement).

The solver modules register in `qsched.model.registry` when imported, and the
registry imports one only when its solver is asked for, so nothing is
imported here.
"""
