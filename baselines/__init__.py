"""Classical baselines: greedy heuristics (Min-min, Max-min, Sufferage), a local search,
the metaheuristics GA and PSO (on DEAP) and ACO, the exact MILP (Pyomo + HiGHS), and an
exhaustive search for tiny problems.

Each module registers its solvers in `qsched.model.registry` when imported, and the
registry imports a module only when one of its solvers is asked for, so
nothing is imported here.
"""
