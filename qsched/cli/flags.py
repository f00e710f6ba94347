"""Argument types, and old flag names kept working for a release, that several commands share."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    #: What each command module's ``add`` registers its subcommand in.
    Commands = argparse._SubParsersAction[argparse.ArgumentParser]

Number = TypeVar("Number", int, float)
#: Bytes in a MiB: sizes are given in MiB on the command line and kept in bytes.
MIB = 2**20


def positive(kind: type[Number]) -> Callable[[str], Number]:
    """An argparse type: a number of ``kind`` that is > 0."""

    def parse(text: str) -> Number:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its errors
    return parse


class DeprecatedAlias(argparse.Action):
    """An old flag name: does what the flag ``replaced`` does (same destination, type and
    metavar) and says on stderr, once per use, which name to use instead. Hidden from
    ``--help``, so new users learn one name."""

    def __init__(
        self, option_strings: Sequence[str], dest: str, *, replaced: argparse.Action
    ) -> None:
        super().__init__(
            option_strings, replaced.dest, metavar=replaced.metavar, help=argparse.SUPPRESS
        )
        self.type = replaced.type  # argparse converts the value with it before calling us
        self.replacement = replaced.option_strings[-1]

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        print(
            f"qsched: {option_string} is deprecated and goes in the next release; "
            f"use {self.replacement}",
            file=sys.stderr,
        )
        setattr(namespace, self.dest, values)


def deprecated_alias(parser: argparse.ArgumentParser, old: str, new: str) -> None:
    """Accept ``old`` for one more release as a hidden alias of the flag ``new`` (added
    before it)."""
    replaced = parser._option_string_actions[new]  # argparse has no public index of its flags
    parser.add_argument(old, action=DeprecatedAlias, replaced=replaced)
