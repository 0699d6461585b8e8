"""``analysis``: meta-analysis of proportions checked against metafor, and living-review tools.

The statistical engine is pure (no file or network I/O). Entry point::

    from analysis import metaprop
    res = metaprop(events, n, measure="PLO", method="REML", ci="z", pi="t")
    print(res)

Lower-level, reusable pieces: :func:`escalc` and :func:`back_transform` (effect sizes),
:func:`rma_uni` (inverse-variance fit for any effect size), :func:`clopper_pearson` and
:func:`wilson` (study intervals).
"""

from __future__ import annotations

from importlib import metadata as _metadata

try:
    __version__: str = _metadata.version("analysis")
except _metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0+unknown"

from analysis.effects import back_transform, escalc
from analysis.intervals import clopper_pearson, wilson
from analysis.metaprop import metaprop
from analysis.results import MetaPropResult
from analysis.rma import UniFit, rma_uni

__all__ = (
    "MetaPropResult",
    "UniFit",
    "__version__",
    "back_transform",
    "clopper_pearson",
    "escalc",
    "metaprop",
    "rma_uni",
    "wilson",
)
