"""The command line's shape: defaults taken from the settings, one name per idea (old names
still working, with a warning), each command's own flags, and clear refusals."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import pytest

from qsched.bench.qubo_settings import Settings as QuboSettings
from qsched.cli import build_parser, main
from qsched.cli import extender as extender_command
from qsched.cli import serve as serve_command
from qsched.service.config import ServiceConfig
from qsched.service.extender.settings import ExtenderSettings
from qsched.solvers.backends import BACKEND_NAMES

CLI = Path(__file__).resolve().parent.parent / "qsched" / "cli"


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def subcommand(*path: str) -> argparse.ArgumentParser:
    """The parser of ``qsched PATH...`` (e.g. ``bench``, ``qubo``)."""
    parser = build_parser()
    for name in path:
        (choices,) = [
            action.choices
            for action in parser._actions
            if isinstance(action, argparse._SubParsersAction)
        ]
        parser = choices[name]
    return parser


def test_every_cli_module_is_small():
    sizes = {path.name: len(path.read_text().splitlines()) for path in CLI.glob("*.py")}
    assert max(sizes.values()) <= 300, sizes


def test_serve_and_extender_defaults_are_the_settings_defaults():
    """No flag given: exactly the dataclasses' own defaults (the CPU count aside)."""
    assert serve_command.config(parse("serve")) == ServiceConfig()
    assert extender_command.settings(parse("extender")) == ExtenderSettings()


def test_bench_qubo_defaults_are_its_settings_defaults():
    args = parse("bench", "qubo")
    defaults = QuboSettings()
    assert tuple(args.depths) == defaults.depths and tuple(args.seeds) == defaults.seeds
    assert (args.shots, args.noise, args.x_mixer) == (
        defaults.shots,
        defaults.noise_qubits,
        defaults.x_mixer_qubits,
    )
    assert tuple(args.noise_depths) == defaults.noise_depths
    assert (args.engine, tuple(args.samplers)) == (defaults.engine, defaults.samplers)


@pytest.mark.parametrize(
    "argv, old, new",
    [
        (["serve", "--address", "127.0.0.1:0"], "--address", "--listen"),
        (["serve", "--metrics-address", ":9464"], "--metrics-address", "--metrics-listen"),
        (["bench", "energy", "--address", "ray:10001"], "--address", "--ray-address"),
        (["bench", "hcsp", "--jobs", "3"], "--jobs", "--workers"),
    ],
)
def test_an_old_flag_name_still_works_and_says_which_to_use(capsys, argv, old, new):
    """The same arguments as the new name gives (type included), and one line on stderr."""
    args = parse(*argv)
    warning = capsys.readouterr().err
    assert warning.count("\n") == 1 and old in warning and new in warning
    assert "deprecated" in warning
    assert args == parse(*[new if word == old else word for word in argv])
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "path, old", [(("serve",), "--address"), (("serve",), "--metrics-address"),
                  (("bench", "energy"), "--address"), (("bench", "hcsp"), "--jobs")]
)  # fmt: skip
def test_old_flag_names_are_hidden_from_help(path, old):
    assert old not in subcommand(*path).format_help()


def test_the_same_idea_has_the_same_name_in_every_command():
    """Where a process listens, the server a client talks to, the Ray cluster."""
    assert "--listen" in subcommand("serve").format_help()
    assert "--listen" in subcommand("extender").format_help()
    for path in (("solve",), ("compare",), ("jobs",), ("solvers",), ("health",), ("extender",)):
        assert "--server" in subcommand(*path).format_help(), path
        assert "--tls-ca" in subcommand(*path).format_help(), path
        assert "--token-file" in subcommand(*path).format_help(), path
    assert "--ray-address" in subcommand("serve").format_help()
    assert "--ray-address" in subcommand("bench", "scale").format_help()


def test_backend_help_lists_every_backend():
    help_text = " ".join(subcommand("solve").format_help().split())
    for name in BACKEND_NAMES:
        assert name in help_text


def test_bench_qubo_has_only_its_own_flags(capsys):
    with pytest.raises(SystemExit) as refused:
        parse("bench", "qubo", "--solvers", "min-min")
    assert refused.value.code == 2
    assert "--solvers" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse("bench", "energy", "--qubits", "8")
    assert "--qubits" in capsys.readouterr().err


def test_bench_without_matplotlib_is_refused_before_it_runs(monkeypatch, tmp_path, capsys):
    real = importlib.util.find_spec

    def find_spec(name: str, *rest: object) -> object:
        return None if name == "matplotlib" else real(name)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    out = tmp_path / "q.jsonl"
    assert main(["bench", "qubo", "--qubits", "8", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'qsched[bench]'" in err
    assert not out.exists()
    argv = ["bench", "energy", "--evaluations", "1", "--out", str(out), "--report", "r.md"]
    assert main(argv) == 2
    assert "qsched[bench]" in capsys.readouterr().err and not out.exists()


def test_extender_client_flags_need_a_server(capsys, tmp_path):
    assert main(["extender", "--tls-ca", str(tmp_path / "ca.pem")]) == 2
    assert "--tls-ca apply to --server" in capsys.readouterr().err
