"""Classical baselines, registered in `qsched.registry` on import.

Greedy heuristics (Min-min, Max-min, Sufferage), a local search, the
metaheuristics GA and PSO (on DEAP) and ACO, the exact MILP, and an
exhaustive search for tiny problems.
"""

from qsched.baselines import aco, exhaustive, ga, greedy, local_search, milp, pso

__all__ = ["aco", "exhaustive", "ga", "greedy", "local_search", "milp", "pso"]
