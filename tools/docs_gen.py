"""The documentation site's generated parts, as an mkdocs hook (``hooks:`` in mkdocs.yml).

What can be read off the code or the records is generated when the site is built, never
written by hand, so it cannot drift from them:

- the solver options table, from each registered solver's declarations
  (`qsched.model.registry`), where a page says ``<!-- generated: solver-options -->``;
- the CLI reference page (``cli.md``), from the argparse parser (`qsched.cli.build_parser`),
  walked generically: every subcommand, nested ones too, and every flag with its help,
  default and choices;
- one page per benchmark report (``benchmarks/results/NAME.md``), its tables rendered from
  the records in ``benchmarks/results/`` by the code that wrote the committed report (the
  ``qsched bench`` reports, the QUBO report, the benchmark scripts' renderers); a report
  with no records behind it is included as it is. The figures next to a report come along.

The ``qsched bench`` reports are rendered without re-evaluating every stored schedule, which
``qsched bench`` does when it writes a report (at cluster scale that takes minutes).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DATA = ROOT / "datasets"
#: Where the benchmark pages and their figures sit in the site.
RESULTS_PAGES = "benchmarks/results"
#: A page asks for a generated part with this comment, e.g. ``<!-- generated: solver-options -->``.
MARKER = re.compile(r"<!-- generated: ([a-z-]+) -->")
#: Usage lines are wrapped at this width, whatever the terminal that builds the site.
USAGE_WIDTH = 100
#: argparse's own argument groups, shown as one table (named groups get their own).
DEFAULT_GROUPS = ("positional arguments", "options", "optional arguments")


def _cell(text: object) -> str:
    """A Markdown table cell: one line, ``|`` escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _row(*cells: object) -> str:
    return "| " + " | ".join(_cell(cell) for cell in cells) + " |"


# --- the solver options -------------------------------------------------------------------


def solver_options() -> str:
    """Every registered solver's options: name, type, default, allowed values, what it does."""
    from qsched.model import registry

    lines = [
        _row("solver", "option", "type", "default", "allowed", "what it does"),
        "|---|---|---|---|---|---|",
    ]
    for spec in registry.available():
        for option in spec.options.values():
            lines.append(
                _row(
                    f"`{spec.name}`",
                    f"`{option.name}`",
                    option.type_name,
                    f"`{json.dumps(option.default)}`",
                    option.allowed,
                    option.doc,
                )
            )
    return "\n".join(lines)


GENERATED_PARTS: dict[str, Callable[[], str]] = {"solver-options": solver_options}


# --- the CLI reference --------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """One (sub)command of the parser: its full name, one-line help and parser."""

    name: str
    help: str
    parser: argparse.ArgumentParser


def commands(parser: argparse.ArgumentParser, name: str = "qsched") -> Iterator[Command]:
    """The parser's subcommands, depth first (``qsched bench`` before ``qsched bench qubo``);
    an alias of a subcommand is not a command of its own."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
        seen: set[int] = set()
        for sub_name, sub_parser in action.choices.items():
            if id(sub_parser) in seen:
                continue
            seen.add(id(sub_parser))
            full = f"{name} {sub_name}"
            yield Command(full, helps.get(sub_name, ""), sub_parser)
            yield from commands(sub_parser, full)


def _usage(parser: argparse.ArgumentParser) -> str:
    formatter = argparse.HelpFormatter(parser.prog, width=USAGE_WIDTH)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups)
    return formatter.format_help().strip()


def _default(action: argparse.Action) -> str:
    """The default as a user would type it; "" where there is none worth saying."""
    value = action.default
    if value is None or value is argparse.SUPPRESS or isinstance(action.const, bool):
        return ""
    if isinstance(value, list | tuple):
        return "`" + " ".join(str(item) for item in value) + "`" if value else ""
    return f"`{value}`"


def _help(action: argparse.Action) -> str:
    """The help with argparse's ``%(default)s``-style fields filled in."""
    text = action.help or ""
    if "%" in text:
        fields = {
            key: value for key, value in vars(action).items() if value is not argparse.SUPPRESS
        }
        text = text % fields
    return text


def _argument(action: argparse.Action) -> str:
    """``file``, or ``--server ADDR`` with any other names the flag has after it."""
    if not action.option_strings:
        return f"`{action.metavar or action.dest}`"
    first, *others = action.option_strings
    metavar = action.metavar or action.dest.upper()
    value = (
        ""
        if action.nargs == 0
        else " " + " ".join(metavar if isinstance(metavar, tuple) else [metavar])
    )
    return ", ".join([f"`{first}{value}`", *(f"`{flag}`" for flag in others)])


def _arguments_table(actions: list[argparse.Action]) -> list[str]:
    rows = [
        _row(
            _argument(action),
            _default(action),
            ", ".join(f"`{choice}`" for choice in action.choices or ()),
            ("required; " if action.required and action.option_strings else "") + _help(action),
        )
        for action in actions
        if action.help is not argparse.SUPPRESS
        and not isinstance(action, argparse._HelpAction | argparse._SubParsersAction)
    ]
    if not rows:
        return []
    return [_row("argument", "default", "choices", "what it does"), "|---|---|---|---|", *rows]


def command_section(command: Command) -> list[str]:
    """A command's heading, help and usage, then its arguments: argparse's own groups in one
    table, each named group in a table of its own."""
    depth = command.name.count(" ") + 1
    lines = [f"{'#' * depth} `{command.name}`", ""]
    description = command.parser.description or command.help
    if description:
        lines += [description, ""]
    lines += ["```text", _usage(command.parser), "```", ""]
    groups = command.parser._action_groups
    untitled = [a for g in groups if g.title in DEFAULT_GROUPS for a in g._group_actions]
    lines += [*_arguments_table(untitled), ""]
    for group in groups:
        table = _arguments_table(group._group_actions)
        if group.title not in DEFAULT_GROUPS and table:
            lines += [f"*{group.title}*", "", *table, ""]
    return lines


def cli_reference() -> str:
    """The CLI reference page: every subcommand of `qsched.cli.build_parser`."""
    from qsched.cli import build_parser

    parser = build_parser()
    lines = [
        "# Command-line reference",
        "",
        "Generated from the command's own parser when the site is built; `qsched COMMAND -h`"
        " prints the same. Where a flag has two names, the second is a deprecated alias.",
        "",
    ]
    for command in commands(parser):
        lines += command_section(command)
    return "\n".join(lines)


# --- the benchmark reports ----------------------------------------------------------------


def _script(name: str) -> ModuleType:
    """A benchmark script under benchmarks/, imported for its report functions."""
    spec = importlib.util.spec_from_file_location(
        f"benchmarks_{name}", ROOT / "benchmarks" / f"{name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as an import would: dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _rows(records: str) -> list[dict[str, Any]]:
    return [
        json.loads(line) for line in (RESULTS / records).read_text().splitlines() if line.strip()
    ]


@dataclass(frozen=True)
class SuiteReport:
    """A ``qsched bench SUITE`` report: the records in ``records`` of ``solvers`` (as the
    command that wrote it gave ``--solvers``; "": all of them)."""

    suite: str
    records: str
    solvers: str = ""

    def render(self) -> str:
        from qsched.bench import report, runner

        records = runner.read_records(RESULTS / self.records)
        if self.solvers:
            chosen = self.solvers.split(",")
            records = [record for record in records if record.solver in chosen]
        return report.render(self.suite, records, DATA)


def _qubo_bench() -> str:
    from qsched.bench import qubo_report
    from qsched.bench.qubo_settings import OPTIMIZER_EVALUATIONS

    return qubo_report.text(_rows("qubo-bench.jsonl"), "qubo-bench.png", OPTIMIZER_EVALUATIONS)


def _qaoa_solvers() -> str:
    script, records = _script("qaoa_solvers"), _rows("qaoa-solvers.jsonl")
    return f"{script.table(records)}\n\n{script.summary(records)}\n"


def _hybrid_windows() -> str:
    """The newest run: a run without a baseline appends one record per job of the script."""
    script, records = _script("hybrid_windows"), _rows("hybrid-windows.jsonl")
    seconds = next(r["seconds"] for r in reversed(records) if r["kind"] == "windows")
    newest: str = script.report(records[-len(script.jobs(seconds)) :], None)
    return newest


def _gpu_engine() -> str:
    data = json.loads((RESULTS / "gpu-engine.json").read_text())
    text: str = _script("gpu_engine").report(data, data["command"])
    return text


@dataclass(frozen=True)
class BenchmarkPage:
    """A report in benchmarks/results/ (``NAME.md``), rendered from its records."""

    name: str
    title: str
    render: Callable[[], str]
    source: str  # the records it is rendered from

    def markdown(self) -> str:
        text = self.render().strip()
        if not text.startswith("# "):
            text = f"# {self.title}\n\n{text}"
        heading, _, body = text.partition("\n")
        note = f"*Rendered from `benchmarks/results/{self.source}` when the site is built.*"
        return f"{heading}\n\n{note}\n{body}\n"


def _suite_page(name: str, title: str, report: SuiteReport) -> BenchmarkPage:
    return BenchmarkPage(name, title, report.render, report.records)


BENCHMARK_PAGES = (
    _suite_page(
        "hcsp-10s",
        "Braun et al. 512×16, 10 s per solver (CPR's budget)",
        SuiteReport("hcsp", "hcsp-10s.jsonl", "matheuristic,hybrid,milp,tabu-search,cpsat"),
    ),
    _suite_page(
        "hcsp-2048x64-40s",
        "Published 2,048×64 A set, 40 s per run (CPR's budget)",
        SuiteReport("hcsp", "hcsp-2048x64-40s.jsonl", "matheuristic"),
    ),
    _suite_page(
        "hcsp-4096x128-60s",
        "Published 4,096×128 A instances, 60 s per run (CPR's budget)",
        SuiteReport("hcsp", "hcsp-4096x128-60s.jsonl", "matheuristic"),
    ),
    _suite_page(
        "hcsp-30s",
        "Braun et al. 512×16, 30 s per solver",
        SuiteReport(
            "hcsp",
            "hcsp-30s.jsonl",
            "min-min,local-search,ga,pso,aco,milp,tabu-search,cpsat,tabu-search@start=min-min",
        ),
    ),
    _suite_page(
        "hcsp-30s-workers",
        "Braun et al. 512×16, 30 s, one and two workers",
        SuiteReport(
            "hcsp", "hcsp-30s.jsonl", "tabu-search,cpsat,tabu-search@workers=2,cpsat@workers=2"
        ),
    ),
    _suite_page(
        "hcsp-hybrid-30s",
        "The hybrid on Braun et al. 512×16, 30 s",
        SuiteReport(
            "hcsp",
            "hcsp-hybrid-30s.jsonl",
            "hybrid,hybrid@sub_solver=exhaustive,hybrid@sub_solver=random,"
            "hybrid@optimizer_evaluations=1",
        ),
    ),
    _suite_page(
        "hcsp-hybrid-60s",
        "The hybrid on Braun et al. 512×16, 60 s (previous round)",
        SuiteReport("hcsp", "hcsp-hybrid-60s.jsonl", "hybrid,hybrid@start=milp"),
    ),
    _suite_page(
        "braun-30s",
        "Braun-style 1,024×32, 30 s, one core per run",
        SuiteReport("braun", "braun-30s.jsonl", "min-min,tabu-search,cpsat,matheuristic,hybrid"),
    ),
    _suite_page(
        "braun-30s-workers",
        "Braun-style 1,024×32, 30 s, one and two workers",
        SuiteReport(
            "braun",
            "braun-30s.jsonl",
            "matheuristic,tabu-search,cpsat,matheuristic@workers=2,tabu-search@workers=2,"
            "cpsat@workers=2",
        ),
    ),
    _suite_page(
        "energy-10s-tabu",
        "Energy-aware suite, 10 s",
        SuiteReport("energy", "energy-10s-tabu.jsonl"),
    ),
    _suite_page(
        "energy-10s",
        "Energy-aware suite, 10 s, three seeds (previous round)",
        SuiteReport("energy", "energy-10s.jsonl"),
    ),
    _suite_page(
        "scale-60s",
        "Cluster scale, 512×16 to 20,000×1,000, 60 s",
        SuiteReport("scale", "scale-60s.jsonl"),
    ),
    BenchmarkPage("qubo-bench", "QUBO benchmark", _qubo_bench, "qubo-bench.jsonl"),
    BenchmarkPage(
        "qaoa-solvers", "qaoa against the stock qiskit stack", _qaoa_solvers, "qaoa-solvers.jsonl"
    ),
    BenchmarkPage(
        "hybrid-windows", "The hybrid's windows", _hybrid_windows, "hybrid-windows.jsonl"
    ),
    BenchmarkPage("gpu-engine", "The GPU engine", _gpu_engine, "gpu-engine.json"),
)


def _with_figures(name: str, text: str) -> str:
    """The report with the figures written next to it (``NAME.png``, ``NAME.*.png``) that
    it does not show already."""
    figures = [
        f"![{figure.stem}]({figure.name})"
        for figure in sorted([*RESULTS.glob(f"{name}.png"), *RESULTS.glob(f"{name}.*.png")])
        if f"({figure.name})" not in text
    ]
    return "\n\n".join([text.rstrip(), *figures]) + "\n" if figures else text


def benchmark_pages() -> dict[str, str]:
    """Every report in benchmarks/results/ by name: rendered from its records where it has
    them, else as it is; each with its figures."""
    rendered = {page.name: page.markdown() for page in BENCHMARK_PAGES}
    kept = {
        report.stem: report.read_text()
        for report in sorted(RESULTS.glob("*.md"))
        if report.stem not in rendered
    }
    return {name: _with_figures(name, text) for name, text in (rendered | kept).items()}


# --- the hook -----------------------------------------------------------------------------


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the generated pages and the benchmark figures to the site."""
    files.append(File.generated(config, "cli.md", content=cli_reference()))
    for name, text in benchmark_pages().items():
        files.append(File.generated(config, f"{RESULTS_PAGES}/{name}.md", content=text))
    for figure in sorted(RESULTS.glob("*.png")):
        files.append(
            File.generated(config, f"{RESULTS_PAGES}/{figure.name}", abs_src_path=str(figure))
        )
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Fill in the generated parts a page asks for; an unknown name fails the build."""

    def part(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in GENERATED_PARTS:
            raise ValueError(f"{page.file.src_uri}: no generated part named {name!r}")
        return GENERATED_PARTS[name]()

    return MARKER.sub(part, markdown)
