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

Needs the ``book`` extra: ``pip install ".[book]"`` from a clone. Importing any module of this room
without it raises an ImportError that says so.
"""

from __future__ import annotations

from analysis.evidence.extras import require_extra

require_extra("book", "analysis.book")
