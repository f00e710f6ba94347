"""The search machinery solvers share: construction, repair, neighbourhoods, the
incremental evaluator, list scheduling, the LP relaxation, portfolios and the budget keeper
(`tracker`). Builds on `qsched.model` only."""
