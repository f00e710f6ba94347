"""qsched: quantum-assisted scheduling of cloud tasks onto heterogeneous machines.

One subpackage per role, each importing only those below it: `qsched.model` (the problem,
the one evaluator, the solver contract, the registry), `qsched.search` (what every search
shares), `qsched.formats` (wire and file formats), `qsched.bench` (benchmarks, reports,
figures) and `qsched.cli`; `qsched.solvers`, `qsched.baselines` and `qsched.service` are
installed from the repository's top-level folders. `qsched.testing` is a testing kit the
product never imports.
"""

__version__ = "0.1.0"
