"""Command line of the package: ``python -m analysis <command> ...``.

Commands are registered, not hard-wired: a module declares one with :func:`command`
and is listed in :data:`COMMAND_MODULES`; its dependencies (PyYAML, bibtexparser,
matplotlib...) are imported only when that command runs. To add ``add-study``::

    # analysis/scaffold.py
    from analysis.cli import command

    def _arguments(parser):
        parser.add_argument("bibkey")

    @command("add-study", help="scaffold the rows of a new study", arguments=_arguments)
    def add_study(args):
        ...
        return 0

and append ``"analysis.scaffold"`` to :data:`COMMAND_MODULES`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["COMMAND_MODULES", "Command", "build_parser", "command", "main"]

#: Modules whose import registers commands (in the order they are listed in ``--help``).
COMMAND_MODULES: tuple[str, ...] = ("analysis.cli", "analysis.scaffold", "analysis.diffcmd")

Handler = Callable[[argparse.Namespace], int]
Arguments = Callable[[argparse.ArgumentParser], None]


@dataclass(frozen=True)
class Command:
    """A subcommand: its name, one-line help, argument declarations and handler."""

    name: str
    help: str
    arguments: Arguments
    handler: Handler


_REGISTRY: dict[str, Command] = {}


def command(
    name: str, *, help: str, arguments: Arguments | None = None
) -> Callable[[Handler], Handler]:
    """Register ``handler(args) -> exit status`` as subcommand ``name``.

    Parameters
    ----------
    name : str
        The subcommand (``validate``, ``add-study``...).
    help : str
        One line shown by ``--help``.
    arguments : callable, optional
        ``arguments(parser)`` declares the subcommand's arguments.

    Returns
    -------
    callable
        A decorator returning the handler unchanged.
    """

    def register(handler: Handler) -> Handler:
        if name in _REGISTRY and _REGISTRY[name].handler is not handler:
            raise ValueError(f"command {name!r} is registered twice")
        _REGISTRY[name] = Command(name, help, arguments or (lambda parser: None), handler)
        return handler

    return register


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered command."""
    for module in COMMAND_MODULES:
        importlib.import_module(module)
    parser = argparse.ArgumentParser(
        prog="python -m analysis",
        description="Tools of the living review: validate the evidence base, and more.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for entry in _REGISTRY.values():
        child = sub.add_parser(entry.name, help=entry.help, description=entry.help)
        entry.arguments(child)
        child.set_defaults(handler=entry.handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command; return its exit status."""
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


# ---------------------------------------------------------------------- built-in commands


def _validate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "data_dir", nargs="?", default="data", help="evidence directory (default: data)"
    )
    parser.add_argument(
        "--bib", default=None, help="BibTeX file (default: as the data package says)"
    )


@command(
    "validate",
    help="check the evidence base and the bibliography; print every problem",
    arguments=_validate_arguments,
)
def _validate(args: argparse.Namespace) -> int:
    from analysis.validate import main as run

    return run(args.data_dir, args.bib, out=sys.stdout, err=sys.stderr)
