"""The command line (analysis.cli): built-in commands declared in one table, rooms unaware of it."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from analysis import cli

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("name", "help_text", "module"), cli.BUILTIN_COMMANDS)
def test_each_builtin_command_module_has_its_two_hooks(name: str, help_text: str, module: str) -> None:
    path, _, prefix = module.partition(":")
    implementation = importlib.import_module(path)
    stem = f"{prefix}_" if prefix else "cli_"
    arguments, run = getattr(implementation, f"{stem}arguments"), getattr(implementation, f"{stem}run")
    assert callable(arguments) and callable(run)
    assert path.split(".")[1] in {"evidence", "living"}  # commands live in their rooms
    arguments(argparse.ArgumentParser())  # declares without error


def test_help_lists_the_builtin_commands_in_order() -> None:
    proc = subprocess.run([sys.executable, "-m", "analysis", "--help"], cwd=ROOT, capture_output=True,
                          text=True, check=True, timeout=120)
    positions = [proc.stdout.index(f"    {name}") for name, _, _ in cli.BUILTIN_COMMANDS]
    assert positions == sorted(positions)


def test_a_builtin_name_cannot_be_registered_again() -> None:
    with pytest.raises(ValueError, match="'validate' is registered twice"):
        cli.command("validate", help="again")(lambda args: 0)


def test_an_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["no-such-command"])
    assert info.value.code == 2
    assert "invalid choice: 'no-such-command'" in capsys.readouterr().err


def test_validate_is_registered_and_others_can_register() -> None:
    parser = cli.build_parser()
    args = parser.parse_args(["validate", "somewhere", "--bib", "x.bib"])
    assert (args.data_dir, args.bib) == ("somewhere", "x.bib")

    def arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument("key")

    @cli.command("toy-command", help="a toy", arguments=arguments)
    def toy(args: argparse.Namespace) -> int:
        return 7 if args.key == "k" else 0

    try:
        assert cli.main(["toy-command", "k"]) == 7
        with pytest.raises(ValueError, match="registered twice"):
            cli.command("toy-command", help="again")(lambda a: 0)
    finally:
        cli._REGISTRY.pop("toy-command")


def test_running_one_command_imports_only_its_module() -> None:
    """``python -m analysis validate`` does not import the other commands' modules (the search client,
    the patient-data kit...): a build that checks the data pays only for the check."""
    others = [m.partition(":")[0] for name, _, m in cli.BUILTIN_COMMANDS if name != "validate"]
    code = ("import sys; from analysis import cli; cli.build_parser(only='validate');"
            f"print([m for m in {others!r} if m in sys.modules])")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                          timeout=120)
    assert proc.stdout.strip() == "[]"


@pytest.mark.parametrize("only", [None, "validate", "diff", "no-such-command"])
def test_the_lazy_parser_lists_every_command_and_parses_the_chosen_one(only: str | None) -> None:
    parser = cli.build_parser(only=only)
    choices = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert list(choices)[:len(cli.BUILTIN_COMMANDS)] == [name for name, _, _ in cli.BUILTIN_COMMANDS]
    if only in (None, "validate"):
        args = parser.parse_args(["validate", "somewhere", "--bib", "x.bib"])
        assert (args.data_dir, args.bib) == ("somewhere", "x.bib")


@pytest.mark.parametrize(("argv", "chosen"), [(["validate", "d"], "validate"), (["-h"], None), ([], None),
                                              (["--help", "diff", "x"], "diff")])
def test_the_chosen_command_is_the_first_word(argv: list[str], chosen: str | None) -> None:
    assert cli._chosen(argv) == chosen
