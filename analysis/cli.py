"""Command line of the package: ``python -m analysis <command> ...``.

The built-in commands are listed in :data:`BUILTIN_COMMANDS`: a name, one line of help and the
module that implements it. That module lives in its room (``analysis.evidence``,
``analysis.living``...) and knows nothing of this file: it defines two functions,

``cli_arguments(parser)``
    declares the command's arguments on an :class:`argparse.ArgumentParser`;
``cli_run(args) -> int``
    runs the command and returns its exit status.

A module with several commands is named ``module:prefix`` and defines ``prefix_arguments`` and
``prefix_run`` for each.

The module is imported only when ``python -m analysis`` starts, so its dependencies (PyYAML,
bibtexparser...) are not needed to ``import analysis``. Another review's code can add a command at
run time with :func:`command`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from analysis.evidence.extras import MissingExtraError

__all__ = ["BUILTIN_COMMANDS", "Command", "build_parser", "command", "main"]

Handler = Callable[[argparse.Namespace], int]
Arguments = Callable[[argparse.ArgumentParser], None]

#: The built-in commands, in the order ``--help`` lists them: (name, help, implementing module).
#: ``module:prefix`` names a module holding several commands: ``prefix_arguments``, ``prefix_run``.
BUILTIN_COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("validate", "check the evidence base and the bibliography; print every problem",
     "analysis.evidence.validate"),
    ("ipd-template", "write an empty patient-level CSV and its data dictionary (for investigators)",
     "analysis.evidence.ipdcmd:template"),
    ("ipd-summary", "turn a study's private patient-level file into publishable aggregate rows",
     "analysis.evidence.ipdcmd:summary"),
    ("add-study", "add a study's row from its BibTeX entry; list what is left to fill",
     "analysis.living.scaffold"),
    ("search", "search the bibliographic databases and the trial registry; queue new records for screening",
     "analysis.living.searchcmd"),
    ("diff", "compare the results of the working tree with a git ref (Markdown)",
     "analysis.living.diffcmd"),
)


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
    """Register ``handler(args) -> exit status`` as subcommand ``name`` (for code outside the package).

    Parameters
    ----------
    name : str
        The subcommand; it must not be a built-in one.
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
        builtin = {entry[0] for entry in BUILTIN_COMMANDS}
        if name in builtin or (name in _REGISTRY and _REGISTRY[name].handler is not handler):
            raise ValueError(f"command {name!r} is registered twice")
        _REGISTRY[name] = Command(name, help, arguments or (lambda parser: None), handler)
        return handler

    return register


def _builtin(name: str, help: str, module: str) -> Command:
    path, _, prefix = module.partition(":")
    implementation = importlib.import_module(path)
    stem = f"{prefix}_" if prefix else "cli_"
    return Command(name, help, getattr(implementation, f"{stem}arguments"), getattr(implementation, f"{stem}run"))


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of a command that is not the one being run (never parsed)."""


def _not_loaded(args: argparse.Namespace) -> int:  # pragma: no cover - never chosen by parse_args
    raise RuntimeError(f"command {args.command!r} was not loaded")


def _chosen(argv: Sequence[str] | None) -> str | None:
    """The subcommand named in ``argv`` (the first word not starting with ``-``), or None."""
    words = list(sys.argv[1:] if argv is None else argv)
    return next((word for word in words if not word.startswith("-")), None)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser with the built-in commands and every registered one.

    With ``only`` (a built-in command's name), only that command's module is imported and its
    arguments declared; the others are listed with their help, so ``--help`` reads the same, but
    their modules (and their dependencies) are not imported.
    """
    builtin_names = {entry[0] for entry in BUILTIN_COMMANDS}
    lazy = only is not None and only in builtin_names
    commands = [_builtin(*entry) if not lazy or entry[0] == only
                else Command(entry[0], entry[1], _no_arguments, _not_loaded)
                for entry in BUILTIN_COMMANDS] + list(_REGISTRY.values())
    parser = argparse.ArgumentParser(
        prog="python -m analysis",
        description="Tools of the living review: validate the evidence base, and more.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for entry in commands:
        child = sub.add_parser(entry.name, help=entry.help, description=entry.help)
        entry.arguments(child)
        child.set_defaults(handler=entry.handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command; return its exit status.

    A missing optional dependency is reported in one line naming the extra (exit status 2).
    """
    try:
        args = build_parser(only=_chosen(argv)).parse_args(argv)
        return int(args.handler(args))
    except MissingExtraError as exc:
        print(f"python -m analysis: {exc}", file=sys.stderr)
        return 2
