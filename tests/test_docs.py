"""The documentation stays true: its generated parts cover every command, option and report,
the code on its pages runs, the commands it shows exist, and the README stays short."""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import shlex
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from qsched.cli import build_parser
from qsched.formats.generate import generate
from qsched.model import registry
from qsched.model.problem import Problem, ProblemError
from qsched.model.solver import Budget

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"
PAGES = sorted(DOCS.rglob("*.md"))


def docs_gen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_gen", ROOT / "tools" / "docs_gen.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


GEN = docs_gen()


def section(text: str, heading: str) -> str:
    """``text`` from ``heading`` to the next heading of the same or a higher level."""
    level = heading.split()[0]
    start = text.index(f"\n{heading}\n") + len(heading) + 2
    following = re.search(rf"\n#{{1,{len(level)}}} ", text[start:])
    return text[start : start + following.start()] if following else text[start:]


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def table_rows(text: str) -> list[list[str]]:
    """The cells of every Markdown table row in ``text`` but the separators."""
    rows = [line for line in text.splitlines() if line.startswith("|")]
    cells = [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows]
    return [row for row in cells if not set("".join(row)) <= set("-:| ")]


def test_the_readme_is_short() -> None:
    assert len(README.read_text().splitlines()) <= 200


def test_the_options_table_is_what_the_solvers_declare() -> None:
    assert "<!-- generated: solver-options -->" in (DOCS / "solvers.md").read_text()
    documented = [
        (solver.strip("`"), name.strip("`"), kind, json.loads(default.strip("`")), allowed, doc)
        for solver, name, kind, default, allowed, doc in table_rows(GEN.solver_options())[1:]
    ]
    declared = [
        (spec.name, option.name, option.type_name, option.default, option.allowed, option.doc)
        for spec in registry.available()
        for option in spec.options.values()
    ]
    assert documented == declared


def test_every_solver_has_a_row_on_the_solvers_page() -> None:
    described = {row[0].strip("`") for row in table_rows((DOCS / "solvers.md").read_text())}
    assert set(registry.names()) <= described


def subcommands(
    parser: argparse.ArgumentParser, name: str = "qsched"
) -> list[tuple[str, argparse.ArgumentParser]]:
    """Every (sub)command, nested ones included, by its full name."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub_parser in action.choices.items():
                found.append((f"{name} {sub_name}", sub_parser))
                found += subcommands(sub_parser, f"{name} {sub_name}")
    return found


def test_the_cli_reference_has_every_command_and_flag() -> None:
    reference = GEN.cli_reference()
    commands = subcommands(build_parser())
    assert {"qsched solve", "qsched serve", "qsched bench"} <= {name for name, _ in commands}
    for name, parser in commands:
        assert f"# `{name}`\n" in reference, name
        text = section(reference, f"{'#' * (name.count(' ') + 1)} `{name}`")
        shown = [a for a in parser._actions if a.help != argparse.SUPPRESS]  # not old aliases
        for action in shown:
            for flag in action.option_strings:
                assert flag in ("-h", "--help") or f"`{flag}" in text, (name, flag)


def shown_commands() -> list[tuple[Path, str]]:
    """Every ``qsched ...`` line in the shell blocks of the README and the docs."""
    lines = []
    for page in [README, *PAGES]:
        for block in code_blocks(page.read_text(), "sh"):
            for line in block.replace("\\\n", " ").splitlines():
                command = line.split(" #")[0].strip()
                if command.startswith(("qsched ", ".venv/bin/qsched ")):
                    lines.append((page, command))
    return lines


def test_the_commands_the_docs_show_have_the_flags_they_use() -> None:
    shown = shown_commands()
    assert len(shown) > 30
    for page, line in shown:
        parser = build_parser()
        words = shlex.split(line.replace("[", " ").replace("]", " ").replace("|", " "))[1:]
        while words:
            chooser = next(
                (a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None
            )
            if chooser is None or words[0] not in chooser.choices:
                break
            parser = chooser.choices[words.pop(0)]
        flags = {flag for action in parser._actions for flag in action.option_strings}
        for word in words:
            flag = word.split("=")[0]
            if flag.startswith("-"):
                assert flag in flags, f"{page.name}: {line}: {parser.prog} has no {flag}"


def test_the_python_example_runs() -> None:
    (example,) = code_blocks(
        section((DOCS / "getting-started.md").read_text(), "## From Python"), "python"
    )
    exec(compile(example, "docs: From Python", "exec"), {})


def test_the_solver_in_adding_a_solver_runs_and_its_option_is_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(registry, "_SOLVERS", dict(registry._SOLVERS))  # for this test only
    (example,) = code_blocks(
        section((DOCS / "development.md").read_text(), "## Adding a solver"), "python"
    )
    exec(compile(example, "docs: Adding a solver", "exec"), {})

    problem = Problem.from_message(generate(8, 3, seed=1))
    result = registry.solve(problem, "random-search", Budget(evaluations=200), seed=1)
    again = registry.solve(problem, "random-search", Budget(evaluations=200), seed=1)
    assert result.evaluations == 200 and result.solver == "random-search"
    assert result.evaluation.key == again.evaluation.key  # same seed and budget, same answer
    fastest = registry.solve(
        problem, "random-search", Budget(evaluations=50), options={"levels": False}
    )
    assert (fastest.evaluation.levels == problem.fastest_levels).all()
    with pytest.raises(ProblemError, match="options.levels"):
        registry.solve(problem, "random-search", Budget(evaluations=5), options={"levels": "yes"})


def mean_gaps(report: str) -> dict[str, str]:
    """An hcsp report's mean gap to the best known per solver at 512 x 16, from its summary
    per size, e.g. {"milp": "0.13%"}."""
    header, *rows = table_rows(section(f"\n{report}", "## Gaps per size"))
    column = header.index("mean gap to best known")
    return {row[1]: row[column] for row in rows if row[0] == "512x16"}


def test_the_readme_headline_is_what_the_records_say() -> None:
    pages = {page.name: page for page in GEN.BENCHMARK_PAGES}
    recorded = mean_gaps(pages["hcsp-10s"].render())
    headline = table_rows(section(README.read_text(), "## Where it stands"))[1:]
    assert len(headline) >= 5
    for solver, _, gap in headline:
        assert recorded[solver.strip("`")] == gap, solver


def test_every_benchmark_report_is_in_the_navigation() -> None:
    navigation = json.dumps(yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"])
    reports = {page.name for page in GEN.BENCHMARK_PAGES} | {
        report.stem for report in (ROOT / "benchmarks" / "results").glob("*.md")
    }
    for name in reports:
        assert f"{GEN.RESULTS_PAGES}/{name}.md" in navigation, name
