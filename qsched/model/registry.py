"""Solvers by name: the one table the CLI, the service and the benchmarks read.

A solver module registers its solvers with `register`. Built-in solvers are
listed here by module (`BUILTIN_SOLVERS`), and a module is imported only
when one of its solvers is asked for: running Min-min imports neither
qiskit nor pyomo nor DEAP. Other packages add solvers through the
entry-point group ``qsched.solvers``: an entry point named after the solver
and pointing at the module that registers it, e.g. in its pyproject.toml::

    [project.entry-points."qsched.solvers"]
    my-solver = "my_package.my_solver"

`solve` looks a solver up, checks the options against its declarations
(`qsched.model.options`) and its own check, and runs it.
"""

from __future__ import annotations

import enum
import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from qsched.model.options import OptionSpec, option_specs
from qsched.model.problem import FieldViolation, Problem, ProblemError, cut, quoted
from qsched.model.solver import Budget, ProgressCallback, Result

#: Built-in solver name -> the module that registers it.
BUILTIN_SOLVERS = {
    "mct": "qsched.baselines.greedy",
    "min-min": "qsched.baselines.greedy",
    "max-min": "qsched.baselines.greedy",
    "sufferage": "qsched.baselines.greedy",
    "local-search": "qsched.baselines.local_search",
    "tabu-search": "qsched.baselines.tabu_search",
    "matheuristic": "qsched.baselines.matheuristic",
    "ga": "qsched.baselines.ga",
    "pso": "qsched.baselines.pso",
    "aco": "qsched.baselines.aco",
    "milp": "qsched.baselines.milp",
    "cpsat": "qsched.baselines.cpsat",
    "exhaustive": "qsched.baselines.exhaustive",
    "qaoa": "qsched.solvers.qaoa",
    "qaoa-reference": "qsched.solvers.reference",
    "qubo-sa": "qsched.solvers.peer_solvers",
    "qubo-tabu": "qsched.solvers.peer_solvers",
    "hybrid": "qsched.solvers.hybrid",
}
#: The modules of the built-in solvers (the service preloads them into its workers).
BUILTIN_MODULES = tuple(dict.fromkeys(BUILTIN_SOLVERS.values()))
#: Where installed packages list their solvers.
ENTRY_POINT_GROUP = "qsched.solvers"


class SolverKind(enum.Enum):
    HEURISTIC = "heuristic"
    METAHEURISTIC = "metaheuristic"
    EXACT = "exact"
    QUANTUM = "quantum"


SolveFunction = Callable[..., Result]
#: A solver's own input check beyond sizes and declared options (a qubit budget, a rule
#: between two options): the violations for a problem and its checked options.
CheckFunction = Callable[[Problem, Mapping[str, Any]], list[FieldViolation]]


class UnknownSolverError(KeyError):
    def __init__(self, name: str):
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"unknown solver {quoted(self.name)}; known: {', '.join(names())}"


@dataclass(frozen=True)
class SolverSpec:
    """A registered solver and what callers may need to know before running it."""

    name: str
    kind: SolverKind
    description: str
    function: SolveFunction
    finite: bool  # stops by itself without a budget
    options: Mapping[str, OptionSpec] = field(default_factory=dict)
    max_tasks: int = 0  # 0: no limit of its own
    max_machines: int = 0
    backends: tuple[str, ...] = ()  # execution backends it accepts; () for classical solvers
    extra_check: CheckFunction | None = None

    def check(self, problem: Problem, options: Mapping[str, Any]) -> dict[str, Any]:
        """Every option, the given ones checked and in their declared types, the others at
        their defaults. Raises `ProblemError` if the problem is too large for the solver, an
        option is unknown or breaks its declaration, or the solver's own check objects."""
        violations = []
        if self.max_tasks and problem.num_tasks > self.max_tasks:
            violations.append(
                FieldViolation(
                    "problem.tasks",
                    f"has {problem.num_tasks} tasks; {self.name} takes at most {self.max_tasks}",
                )
            )
        if self.max_machines and problem.num_machines > self.max_machines:
            violations.append(
                FieldViolation(
                    "problem.machines",
                    f"has {problem.num_machines} machines; "
                    f"{self.name} takes at most {self.max_machines}",
                )
            )
        checked = {name: spec.default for name, spec in self.options.items()}
        for name, value in options.items():
            spec = self.options.get(name)
            if spec is None:
                accepted = ", ".join(self.options) or "none"
                violations.append(
                    FieldViolation(
                        f"options.{cut(name)}",
                        f"is not an option of {self.name} (accepted: {accepted})",
                    )
                )
            elif (problem_with_value := spec.violation(value)) is not None:
                violations.append(FieldViolation(f"options.{cut(name)}", problem_with_value))
            else:
                checked[name] = spec.coerce(value)
        if not violations and self.extra_check is not None:
            violations = self.extra_check(problem, checked)
        if violations:
            raise ProblemError(violations)
        return checked

    def run(
        self,
        problem: Problem,
        budget: Budget,
        seed: int,
        progress: ProgressCallback | None,
        options: Mapping[str, Any],
    ) -> Result:
        """Run with options that `check` returned (the service checks them where a request
        arrives, the worker runs them)."""
        if not self.finite and budget.wall_seconds is None and budget.evaluations is None:
            raise ValueError(
                f"{self.name} runs until its budget ends: give wall_seconds or evaluations"
            )
        return self.function(problem, budget, seed, progress, **options)

    def accepts(self, backend: str) -> bool:
        """Whether ``backend`` is one of `backends`, where ``<device>`` stands for any device
        name."""
        for name in self.backends:
            prefix, marker, _ = name.partition("<device>")
            if backend == name or (
                marker and backend.startswith(prefix) and len(backend) > len(prefix)
            ):
                return True
        return False


_SOLVERS: dict[str, SolverSpec] = {}


def register(
    name: str,
    *,
    kind: SolverKind,
    finite: bool,
    max_tasks: int = 0,
    max_machines: int = 0,
    backends: tuple[str, ...] = (),
    check: CheckFunction | None = None,
) -> Callable[[SolveFunction], SolveFunction]:
    """Decorator: register ``function`` under ``name``; its docstring's first paragraph
    describes it and its keyword-only parameters are its options (see `qsched.model.options`)."""

    def decorate(function: SolveFunction) -> SolveFunction:
        if name in _SOLVERS:
            raise ValueError(f"solver {name!r} is already registered")
        summary = (inspect.getdoc(function) or name).split("\n\n")[0]
        description = " ".join(summary.split())
        options = option_specs(function)
        _SOLVERS[name] = SolverSpec(
            name,
            kind,
            description,
            function,
            finite,
            options,
            max_tasks,
            max_machines,
            backends,
            check,
        )
        return function

    return decorate


def _plugins() -> dict[str, str]:
    """Solver name -> module, from the installed packages' ``qsched.solvers`` entry points."""
    return {entry.name: entry.module for entry in entry_points(group=ENTRY_POINT_GROUP)}


def _module_of(name: str) -> str | None:
    """The module that registers ``name``: a built-in's, else an installed plugin's."""
    return BUILTIN_SOLVERS.get(name) or _plugins().get(name)


def get(name: str) -> SolverSpec:
    """The solver registered as ``name``, importing its module (and only that) if needed."""
    if name not in _SOLVERS and (module := _module_of(name)) is not None:
        importlib.import_module(module)
    try:
        return _SOLVERS[name]
    except KeyError:
        raise UnknownSolverError(name) from None


def names() -> list[str]:
    """Every solver name there is: registered, built-in or installed, without importing any."""
    return sorted({*_SOLVERS, *BUILTIN_SOLVERS, *_plugins()})


def available() -> list[SolverSpec]:
    """Every solver, by kind then name (imports them all)."""
    specs = [get(name) for name in names()]
    return sorted(specs, key=lambda spec: (spec.kind.value, spec.name))


def solve(
    problem: Problem,
    solver: str,
    budget: Budget = Budget(),
    seed: int = 0,
    progress: ProgressCallback | None = None,
    options: Mapping[str, Any] | None = None,
) -> Result:
    """Check the options and run the named solver; same problem, budget and seed, same result.

    A solver that does not stop by itself needs a wall-time or evaluation budget.
    """
    spec = get(solver)
    return spec.run(problem, budget, seed, progress, spec.check(problem, options or {}))
