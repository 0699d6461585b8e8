"""The statistics engine: meta-analysis of proportions, checked against metafor.

What lives here
    Effect sizes and their back-transformations (:mod:`.effects`), between-study variance
    estimators (:mod:`.tau2`), the inverse-variance fit (:mod:`.rma`), heterogeneity statistics,
    study intervals, the binomial-normal GLMM (:mod:`.glmm`), the Bayesian normal-normal model
    (:mod:`.bayes`), the front door :func:`~analysis.engine.metaprop.metaprop` and its result
    object, meta-regression, subgroups, sensitivity and influence analyses, small-study tests,
    Kaplan-Meier and Aalen-Johansen (competing risks)
    estimation (:mod:`.survival`) and the simulation study's data-generating code.

What it may import
    numpy, scipy and pandas (tables as return values only), and itself. No file or network I/O,
    no plotting, nothing from the other rooms (``analysis.evidence``, ``analysis.living``,
    ``analysis.book``), and no knowledge of any particular review: inputs are arrays, outputs are
    immutable results. The contracts in ``pyproject.toml`` (``lint-imports``) enforce this.

The engine needs no optional dependency: ``pip install .`` is enough.
"""

from __future__ import annotations

from importlib import metadata as _metadata

#: Name of the distribution on an index (the import name is ``analysis``).
DISTRIBUTION = "scb-review-analysis"

try:
    #: The package version, recorded in every result (``MetaPropResult.package_version``).
    __version__: str = _metadata.version(DISTRIBUTION)
except _metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0+unknown"

__all__ = ["DISTRIBUTION", "__version__"]
