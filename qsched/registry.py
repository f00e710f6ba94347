"""Solvers by name: the one table the CLI, the service and the benchmarks read.

A solver registers itself with `register`; `solve` looks it up, checks the
options against the solver's keyword-only parameters and runs it. Built-in
solvers live in `qsched.baselines` and `qsched.solvers` and are imported on
first use, so importing this module stays cheap and cycle-free.
"""

from __future__ import annotations

import enum
import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from qsched.problem import FieldViolation, Problem, ProblemError
from qsched.solver import Budget, ProgressCallback, Result

#: Modules whose import registers the built-in solvers.
BUILTIN_MODULES = ("qsched.baselines", "qsched.solvers")


class SolverKind(enum.Enum):
    HEURISTIC = "heuristic"
    METAHEURISTIC = "metaheuristic"
    EXACT = "exact"
    QUANTUM = "quantum"


SolveFunction = Callable[..., Result]
#: A solver's own input check beyond sizes and option types (e.g. a qubit budget):
#: the violations for a problem and typed options, empty when it can run.
CheckFunction = Callable[[Problem, dict[str, Any]], list[FieldViolation]]


class UnknownSolverError(KeyError):
    def __init__(self, name: str):
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"unknown solver {self.name!r}; known: {', '.join(names())}"


@dataclass(frozen=True)
class SolverSpec:
    """A registered solver and what callers may need to know before running it."""

    name: str
    kind: SolverKind
    description: str
    function: SolveFunction
    finite: bool  # stops by itself without a budget
    max_tasks: int = 0  # 0: no limit of its own
    max_machines: int = 0
    backends: tuple[str, ...] = ()  # execution backends it accepts; () for classical solvers
    extra_check: CheckFunction | None = None

    @property
    def options(self) -> dict[str, inspect.Parameter]:
        parameters = inspect.signature(self.function).parameters.values()
        return {p.name: p for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}

    def typed(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """Checked options with whole numbers as ``int`` where the default is one
        (JSON, and so protobuf Struct, has only floats)."""
        known = self.options
        return {
            name: int(value) if isinstance(known[name].default, int) and not isinstance(value, bool) else value
            for name, value in options.items()
        }

    def check(self, problem: Problem, options: Mapping[str, Any]) -> None:
        """Raise `ProblemError` if the problem is too large, an option is unknown or of the wrong
        type, or the solver's own check (`extra_check`) finds a violation."""
        violations = []
        if self.max_tasks and problem.num_tasks > self.max_tasks:
            violations.append(FieldViolation("problem.tasks", f"has {problem.num_tasks} tasks; {self.name} takes at most {self.max_tasks}"))
        if self.max_machines and problem.num_machines > self.max_machines:
            violations.append(FieldViolation("problem.machines", f"has {problem.num_machines} machines; {self.name} takes at most {self.max_machines}"))
        known = self.options
        for option, value in options.items():
            if option not in known:
                accepted = ", ".join(known) or "none"
                violations.append(FieldViolation(f"options.{option}", f"is not an option of {self.name} (accepted: {accepted})"))
            elif not _same_kind(value, known[option].default):
                kind = type(known[option].default).__name__
                violations.append(FieldViolation(f"options.{option}", f"must be a {kind}, like its default {known[option].default!r}"))
        if not violations and self.extra_check is not None:
            violations = self.extra_check(problem, self.typed(options))
        if violations:
            raise ProblemError(violations)

    def accepts(self, backend: str) -> bool:
        """Whether ``backend`` is one of `backends`, where ``<device>`` stands for any device name."""
        for name in self.backends:
            prefix, marker, _ = name.partition("<device>")
            if backend == name or (marker and backend.startswith(prefix) and len(backend) > len(prefix)):
                return True
        return False


def _same_kind(value: Any, default: Any) -> bool:
    """Whether an option value fits the type of the option's default (JSON numbers are floats)."""
    if default is inspect.Parameter.empty or default is None:
        return True
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, int):
        return isinstance(value, (int, float)) and float(value).is_integer()
    if isinstance(default, float):
        return isinstance(value, (int, float))
    return isinstance(value, type(default))


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
):
    """Decorator: register ``function`` under ``name``; its docstring's first line describes it."""

    def decorate(function: SolveFunction) -> SolveFunction:
        if name in _SOLVERS:
            raise ValueError(f"solver {name!r} is already registered")
        description = (inspect.getdoc(function) or name).splitlines()[0]
        _SOLVERS[name] = SolverSpec(name, kind, description, function, finite, max_tasks, max_machines, backends, check)
        return function

    return decorate


def _load_builtins() -> None:
    for module in BUILTIN_MODULES:
        importlib.import_module(module)


def get(name: str) -> SolverSpec:
    _load_builtins()
    try:
        return _SOLVERS[name]
    except KeyError:
        raise UnknownSolverError(name) from None


def available() -> list[SolverSpec]:
    _load_builtins()
    return sorted(_SOLVERS.values(), key=lambda spec: (spec.kind.value, spec.name))


def names() -> list[str]:
    return [spec.name for spec in available()]


def solve(
    problem: Problem,
    solver: str,
    budget: Budget = Budget(),
    seed: int = 0,
    progress: ProgressCallback | None = None,
    options: Mapping[str, Any] | None = None,
) -> Result:
    """Run the named solver; same problem, budget and seed give the same result.

    A solver that does not stop by itself needs a wall-time or evaluation budget.
    """
    spec = get(solver)
    if not spec.finite and budget.wall_seconds is None and budget.evaluations is None:
        raise ValueError(f"{solver} runs until its budget ends: give wall_seconds or evaluations")
    options = dict(options or {})
    spec.check(problem, options)
    return spec.function(problem, budget, seed, progress, **spec.typed(options))
