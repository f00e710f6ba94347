"""Declared solver options: checked once where a request arrives, listed by `ListSolvers` and the
CLI."""

from __future__ import annotations

import math
from typing import Annotated

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qsched.formats.generate import generate
from qsched.formats.messages import option_spec, solver_info
from qsched.model import registry
from qsched.model.options import Option, OptionSpec, option_specs, parse_label, parse_pair
from qsched.model.problem import Problem, ProblemError

PROBLEM = Problem.from_message(generate(3, 2, seed=1))
#: Every declared option of every built-in solver, but qaoa's backend: any name is a string,
#: and whether it names a device only the solver's own check can say (tests/test_qaoa.py).
OPTIONS = [
    (spec.name, option)
    for spec in registry.available()
    for option in spec.options.values()
    if (spec.name, option.name) != ("qaoa", "backend")
]
#: Other options that keep a rule between two options (ga: elite < population) out of the way.
COMPANIONS = {("ga", "elite"): {"population": 10_000}, ("ga", "population"): {"elite": 0}}
JSON_VALUES = st.one_of(
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["min-min", "milp", "xy", "x", "qaoa", "exhaustive", "engine", "aer"]),
)


def allowed(option: OptionSpec, value: object) -> bool:
    """The declaration read independently: type, finiteness, choices, bounds."""
    if option.type is bool or isinstance(value, bool):
        return isinstance(value, bool) and option.type is bool
    if option.type is str:
        return isinstance(value, str) and (
            not option.option.choices or value in option.option.choices
        )
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return False
    if option.type is int and not float(value).is_integer():
        return False
    low, high, declared = option.option.minimum, option.option.maximum, option.option
    if low is not None and (value <= low if declared.exclusive_minimum else value < low):
        return False
    return high is None or (value < high if declared.exclusive_maximum else value <= high)


@pytest.mark.parametrize("solver, option", OPTIONS, ids=[f"{s}.{o.name}" for s, o in OPTIONS])
@settings(
    max_examples=80,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(value=JSON_VALUES)
def test_an_option_value_is_taken_exactly_when_its_declaration_allows_it(solver, option, value):
    """A value its declaration rules out is refused naming the option, and only such a value:
    an allowed one may still make the problem too large for the solver (qaoa's max_qubits),
    but that is a violation of the problem, not of the option."""
    spec = registry.get(solver)
    options = {option.name: value, **COMPANIONS.get((solver, option.name), {})}
    try:
        checked, fields = spec.check(PROBLEM, options), []
    except ProblemError as error:
        checked, fields = None, [v.field for v in error.violations]
    if not allowed(option, value):
        assert fields == [f"options.{option.name}"]
    elif checked is None:
        assert f"options.{option.name}" not in fields
    else:
        assert checked[option.name] == value and type(checked[option.name]) is option.type


@pytest.mark.parametrize("solver", ["ga", "pso", "aco", "local-search"])
def test_a_bad_start_is_refused_before_anything_runs(solver):
    with pytest.raises(ProblemError, match="options.start") as error:
        registry.get(solver).check(PROBLEM, {"start": "bogus"})
    assert "one of mct, min-min, max-min, sufferage" in str(error.value)


def test_unknown_options_name_what_the_solver_takes():
    with pytest.raises(ProblemError) as error:
        registry.get("aco").check(PROBLEM, {"ant": 3})
    assert error.value.violations[0].field == "options.ant"
    assert "accepted: ants, alpha" in error.value.violations[0].description


def test_whole_floats_become_ints_and_unset_options_keep_their_defaults():
    checked = registry.get("ga").check(PROBLEM, {"population": 40.0})
    assert checked["population"] == 40 and type(checked["population"]) is int
    assert checked["crossover"] == 0.8 and checked["start"] == "min-min"


def test_rules_between_options_are_the_solvers_own_check():
    with pytest.raises(ProblemError, match="options.elite"):
        registry.get("ga").check(PROBLEM, {"elite": 5, "population": 5})


def test_every_option_has_a_one_line_doc():
    """A cell of the README's option table: one line, no "|", no full stop."""
    for spec in registry.available():
        for option in spec.options.values():
            doc = option.doc
            assert doc and "\n" not in doc and "|" not in doc and not doc.endswith("."), option


def test_an_undeclared_option_is_refused_at_registration():
    def solver(problem, budget, seed, progress=None, *, depth: int = 2):
        """A solver whose option has no declaration."""

    with pytest.raises(TypeError, match="'depth' must be declared"):
        option_specs(solver)

    def declared(
        problem,
        budget,
        seed,
        progress=None,
        *,
        depth: Annotated[int, Option("layers", minimum=1)] = 2,
    ):
        """A solver whose option is declared."""

    assert option_specs(declared)["depth"].allowed == ">= 1"


@pytest.mark.parametrize("spec", registry.available(), ids=lambda spec: spec.name)
def test_list_solvers_messages_carry_the_declarations_back_unchanged(spec):
    info = solver_info(spec)
    assert [option_spec(message) for message in info.options] == list(spec.options.values())


def test_option_text_parses_json_and_falls_back_to_strings():
    assert parse_pair("depth=3") == ("depth", 3)
    assert parse_pair("start=max-min") == ("start", "max-min")
    assert parse_pair("vqe=false") == ("vqe", False)
    with pytest.raises(ValueError, match="key=value"):
        parse_pair("depth")
    assert parse_label("hybrid@sub_solver=exhaustive+shots=128") == (
        "hybrid",
        {"sub_solver": "exhaustive", "shots": 128},
    )
    assert parse_label("ga") == ("ga", {})
