"""Where a review's files are, from any folder inside its repository.

The commands of ``python -m analysis`` name their files relative to the repository root
(``data``, ``data/search_strategy.yaml``). Run from a subfolder (``cd book``), they look for the
root upwards: the nearest folder that holds the data package descriptor ``data/datapackage.yaml``.
The search stops at the top of the git repository (the folder holding ``.git``), so a command
never reads another project's files; when nothing is found, :class:`ProjectRootError` says to run
the command from the repository root.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["MARKER", "ProjectRootError", "default_path", "find_root"]

#: The file that marks the root of a review: its data package descriptor.
MARKER = Path("data") / "datapackage.yaml"


class ProjectRootError(Exception):
    """No review root in the current folder or above it."""


def find_root(start: str | Path | None = None, marker: str | Path = MARKER) -> Path | None:
    """The nearest folder at or above ``start`` (default: the current folder) holding ``marker``
    (default :data:`MARKER`).

    The search stops at the top of a git repository (a folder holding ``.git``); ``None`` when no
    folder up to there holds the descriptor.
    """
    here = Path(start if start is not None else Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / marker).is_file():
            return folder
        if (folder / ".git").exists():
            return None
    return None


def default_path(relative: str | Path, start: str | Path | None = None, *,
                 marker: str | Path = MARKER) -> Path:
    """A command's default file or folder, ``relative`` to the repository root (the folder holding
    ``marker``, by default :data:`MARKER`).

    From the root itself the path is returned as given (``data``), so messages name files as the
    user sees them; from a subfolder it is returned relative to that folder (``../data``).

    Raises
    ------
    ProjectRootError
        No folder at or above ``start`` holds ``marker``.
    """
    here = Path(start if start is not None else Path.cwd()).resolve()
    root = find_root(here, marker)
    if root is None:
        raise ProjectRootError(
            f"no {Path(marker).as_posix()} in {here} or in any folder above it: run the command from the "
            "repository root (the folder that holds data/ and references.bib), or name the files "
            "with the command's options"
        )
    if root == here:
        return Path(relative)
    return Path(os.path.relpath(root / relative, here))
