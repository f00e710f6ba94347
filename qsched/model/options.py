"""Solver options: declared once, in the solver's signature, and checked at the API boundary.

A solver's options are its keyword-only parameters, each annotated with its
type and an `Option` (one-line doc, range or choices) and given its default::

    population: Annotated[int, Option("individuals per generation", minimum=2)] = 60

`option_specs` reads them into `OptionSpec`s, which the registry checks
requests against (unknown names, wrong types, NaN or infinite numbers, out
of range, not a choice: each an ``options.<name>`` violation), the CLI
prints (``qsched solvers NAME``) and ``ListSolvers`` returns.

Options arrive as JSON values (protobuf ``Struct`` or ``--option
key=value``), where every number is a float: `OptionSpec.coerce` makes
whole numbers ``int`` where the option is one.
"""

from __future__ import annotations

import inspect
import json
import math
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: The option types, by the name the CLI and ``ListSolvers`` show.
TYPE_NAMES: dict[type, str] = {bool: "bool", int: "int", float: "float", str: "string"}


@dataclass(frozen=True)
class Option:
    """What a solver says about one option besides its type and default."""

    doc: str
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class OptionSpec:
    """One declared option: name, type, default and `Option`."""

    name: str
    type: type
    default: Any
    option: Option

    @property
    def doc(self) -> str:
        return self.option.doc

    @property
    def type_name(self) -> str:
        return TYPE_NAMES[self.type]

    @property
    def allowed(self) -> str:
        """The range or choices as text: ``>= 1``, ``[0, 1]``, ``(0, 1)``, ``one of xy, x``;
        "" if any value goes."""
        option = self.option
        if option.choices:
            return "one of " + ", ".join(option.choices)
        low, high = option.minimum, option.maximum
        if low is not None and high is not None:
            opening = "(" if option.exclusive_minimum else "["
            closing = ")" if option.exclusive_maximum else "]"
            return f"{opening}{_number(low)}, {_number(high)}{closing}"
        if low is not None:
            return f"{'>' if option.exclusive_minimum else '>='} {_number(low)}"
        if high is not None:
            return f"{'<' if option.exclusive_maximum else '<='} {_number(high)}"
        return ""

    def violation(self, value: Any) -> str | None:
        """Why ``value`` cannot be this option's value, or None if it can."""
        kind = self.type
        if kind is bool or isinstance(value, bool):
            fits = isinstance(value, bool) and kind is bool
        elif kind in (int, float):
            fits = isinstance(value, (int, float)) and (
                kind is float or not math.isfinite(value) or float(value).is_integer()
            )
        else:
            fits = isinstance(value, kind)
        if not fits:
            article = "an" if self.type_name[0] in "aeiou" else "a"
            return f"must be {article} {self.type_name}, like its default {self.default!r}"
        if kind in (int, float) and not math.isfinite(value):
            return "must be a finite number"
        option = self.option
        if option.choices and value not in option.choices:
            return f"must be {self.allowed}"
        below = option.minimum is not None and (
            value <= option.minimum if option.exclusive_minimum else value < option.minimum
        )
        above = option.maximum is not None and (
            value >= option.maximum if option.exclusive_maximum else value > option.maximum
        )
        if below or above:
            return (
                f"must be in {self.allowed}"
                if self.allowed[0] in "[("
                else f"must be {self.allowed}"
            )
        return None

    def coerce(self, value: Any) -> Any:
        """The checked value in the option's own type (JSON numbers are floats)."""
        return self.type(value)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def option_specs(function: Callable[..., Any]) -> dict[str, OptionSpec]:
    """The options ``function`` declares: its keyword-only parameters, each ``Annotated``
    with its type and an `Option`, with a default. Raises TypeError for one that is not."""
    hints = typing.get_type_hints(function, include_extras=True)
    specs = {}
    for parameter in inspect.signature(function).parameters.values():
        if parameter.kind is not inspect.Parameter.KEYWORD_ONLY:
            continue
        hint = hints.get(parameter.name)
        metadata = [m for m in getattr(hint, "__metadata__", ()) if isinstance(m, Option)]
        kind = typing.get_args(hint)[0] if metadata else None
        if not metadata or kind not in TYPE_NAMES or parameter.default is inspect.Parameter.empty:
            raise TypeError(
                f"{function.__qualname__}: option {parameter.name!r} must be declared as "
                f"Annotated[bool | int | float | str, Option(...)] with a default"
            )
        specs[parameter.name] = OptionSpec(parameter.name, kind, parameter.default, metadata[0])
    return specs


def parse_value(text: str) -> Any:
    """A command-line option value: JSON where it parses (``3``, ``0.5``, ``true``), else the
    text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_pair(pair: str) -> tuple[str, Any]:
    """``key=value`` -> (key, `parse_value`(value)); ValueError naming the pair otherwise."""
    key, sep, value = pair.partition("=")
    if not sep or not key:
        raise ValueError(f"an option is key=value, got {pair!r}")
    return key, parse_value(value)


def parse_label(label: str) -> tuple[str, dict[str, Any]]:
    """A solver with options under its own label, e.g. an ablation next to the original:
    ``hybrid@sub_solver=exhaustive+shots=128`` -> ("hybrid", {"sub_solver": "exhaustive",
    "shots": 128}) (``+`` between options, since commas separate solvers on the command line)."""
    name, _, text = label.partition("@")
    return name, dict(parse_pair(pair) for pair in text.split("+") if pair)
