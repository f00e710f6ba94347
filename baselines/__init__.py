"""Classical baselines, registered in `qsched.registry` on import.

Greedy heuristics (Min-min, Max-min, Sufferage) and a local search; the
metaheuristics (GA, PSO, ACO) and the exact MILP join them here.
"""

from qsched.baselines import greedy, local_search

__all__ = ["greedy", "local_search"]
