"""``analysis``: meta-analysis of proportions checked against metafor, and living-review tools.

Entry point (needs only numpy, scipy and pandas)::

    from analysis import metaprop
    res = metaprop(events, n, measure="PLO", method="REML", ci="z", pi="t")
    print(res)

Lower-level, reusable pieces: :func:`escalc` and :func:`back_transform` (effect sizes),
:func:`rma_uni` (inverse-variance fit for any effect size), :func:`clopper_pearson` and
:func:`wilson` (study intervals).

Docstrings cite their sources by key in square brackets (``[miller1978]``): :func:`cite` gives the
full reference of a key, or of every key an object's docstring cites (``print(cite(metaprop))``).

The package has four rooms, each a subpackage whose docstring says what lives there and what it
may import (``lint-imports`` checks the direction, from the contracts in ``pyproject.toml``):

``analysis.engine``
    the statistics: pure functions and immutable results, no I/O (no optional dependency);
``analysis.evidence``
    a review's data package: reading, validation, bibliography, GRADE, the analysis plan
    (extra ``evidence``);
``analysis.living``
    the review as a whole, its versions, what changed, ``diff`` and ``add-study`` (extra
    ``evidence``);
``analysis.book``
    the Jupyter Book kit: chapters, report wording, plots, the Sphinx extension (extra ``book``).

Each room may import only the rooms listed after it. ``python -m analysis`` is the command line
(:mod:`analysis.cli`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from analysis.engine import DISTRIBUTION as DISTRIBUTION  # the distribution name, for reusers
from analysis.engine import __version__

if TYPE_CHECKING:  # imported on first use (below), so that ``import analysis.x`` stays cheap
    from analysis.engine.effects import back_transform, escalc
    from analysis.engine.intervals import clopper_pearson, wilson
    from analysis.engine.metaprop import metaprop
    from analysis.engine.results import MetaPropResult
    from analysis.engine.rma import UniFit, rma_uni
    from analysis.references import cite

#: Where each name of the entry point lives; imported when first read (PEP 562), not with the package,
#: so that commands and build tools that need no statistics do not pay for importing scipy.
_LAZY = {
    "MetaPropResult": "analysis.engine.results",
    "UniFit": "analysis.engine.rma",
    "back_transform": "analysis.engine.effects",
    "cite": "analysis.references",
    "clopper_pearson": "analysis.engine.intervals",
    "escalc": "analysis.engine.effects",
    "metaprop": "analysis.engine.metaprop",
    "rma_uni": "analysis.engine.rma",
    "wilson": "analysis.engine.intervals",
}

__all__ = (
    "MetaPropResult",
    "UniFit",
    "__version__",
    "back_transform",
    "cite",
    "clopper_pearson",
    "escalc",
    "metaprop",
    "rma_uni",
    "wilson",
)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'analysis' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
