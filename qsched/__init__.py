"""qsched: quantum-assisted scheduling of cloud tasks onto heterogeneous machines.

The core: the problem model (`qsched.problem`), the one evaluator
(`qsched.evaluate`), the solver contract (`qsched.solver`) and registry
(`qsched.registry`), file formats, the generator and the CLI.
"""

__version__ = "0.1.0"
