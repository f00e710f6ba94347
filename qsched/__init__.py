"""qsched: quantum-assisted scheduling of cloud tasks onto heterogeneous machines.

The core: the problem model (`qsched.model.problem`), the one evaluator
(`qsched.model.evaluate`), the solver contract (`qsched.model.solver`) and registry
(`qsched.model.registry`), file formats, the generator and the CLI.
"""

__version__ = "0.1.0"
