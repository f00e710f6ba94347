"""Classical baselines, registered in `qsched.registry` on import.

Greedy heuristics (Min-min, Max-min, Sufferage), a local search, the
metaheuristics GA and PSO (on DEAP) and ACO, and the exact MILP.
"""

from qsched.baselines import aco, ga, greedy, local_search, milp, pso

__all__ = ["aco", "ga", "greedy", "local_search", "milp", "pso"]
