"""The book kit: what the chapters of a living-review Jupyter Book call, and how the book is built.

What lives here
    The chapter kit (:mod:`.bookkit`: load once, compute once, show tables, figures and glued
    numbers), report wording (:mod:`.report`), the figures (:mod:`.plots`), the figure cache keyed
    by content (:mod:`.figcache`), the Sphinx extension that re-executes only chapters whose
    inputs changed (:mod:`.sphinxext`) and the executor of chapters in forked workers
    (:mod:`.nbfork`).

What it may import
    Every other room (``analysis.living``, ``analysis.evidence``, ``analysis.engine``) and the
    libraries of the ``book`` extra; nothing imports the book.

Needs the ``book`` extra: ``pip install ".[book]"`` from a clone. The figures (:mod:`.plots`) and
the report wording they use (:mod:`.report`) need only the light ``plots`` extra (matplotlib and
forestplot): ``pip install ".[plots]"`` draws a forest plot without the Jupyter Book stack.
Importing a module of this room without its extra raises an ImportError that names the extra
(:data:`PLOTS_ONLY` lists the modules of the ``plots`` extra; every other one needs ``book``); the
package itself imports without either, to install that check.
"""

from __future__ import annotations

import sys
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from typing import Any

from analysis.evidence.extras import require_extra

__all__ = ["PLOTS_ONLY"]

#: Modules of this room that need only the ``plots`` extra (with their submodules).
PLOTS_ONLY = frozenset({"plots", "report"})


class _ExtraOfEachModule(MetaPathFinder):
    """Checks, before a module of this room is imported, that the extra it needs is installed.

    It finds nothing itself (the usual finders load the module); it only raises the ImportError
    naming the missing extra, as :func:`~analysis.evidence.extras.require_extra` words it.
    """

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> ModuleSpec | None:
        parts = fullname.split(".")
        if parts[:2] == ["analysis", "book"] and len(parts) > 2:
            require_extra("plots" if parts[2] in PLOTS_ONLY else "book", fullname)
        return None


if not any(isinstance(f, _ExtraOfEachModule) for f in sys.meta_path):
    sys.meta_path.insert(0, _ExtraOfEachModule())
