"""Quantum solvers.

`qaoa` (QUBO encoding, QAOA on the built-in engine or a qiskit backend,
decode / repair / polish, VQE refinement of the DVFS levels) and
`qaoa-reference` (the stock qiskit-algorithms QAOA with
MinimumEigenOptimizer, for side-by-side comparisons), and `hybrid` (QAOA on
windows of a classical schedule, for problems of any size, with a classical
ablation). The pieces: `allocation` and `levels` (the quadratic programs), `qubo` (the
QUBO builder with calibrated penalties, and qiskit-optimization's converter), `sampling`
(the QUBO sampler seam: `QuboSampler`, `QuboModel`, `Samples`; random and exhaustive
sampling), `samplers` (samplers by name), `qaoa_samplers` (QAOA on the engine, its CUDA
kernels or a qiskit backend), `peers` (simulated annealing and tabu search), `statistics`
(typed sample and window statistics), `engine` and `gpu_engine` (the statevector QAOA
engine and its CUDA twin), `depth_one` (depth-1 closed form), `parameters` (angle
strategies), `circuit` and `backends` (the same ansatz on real qiskit backends), `vqe`
(level refinement).

The solver modules register in `qsched.model.registry` when imported, and the
registry imports one only when its solver is asked for, so nothing is
imported here.
"""
