"""Leave-one-out and cumulative meta-analysis of proportions.

Both refit :func:`analysis.engine.metaprop.metaprop` with the same options on subsets of the studies,
as metafor's ``leave1out`` and ``cumul`` refit ``rma`` [viechtbauer2010]:

* leave-one-out: k fits, each without one study (sensitivity of the pooled proportion, tau^2 and
  I^2 to any single study) [viechtbauercheung2010];
* cumulative: k fits of the first 1, 2, ..., k studies in a given order, e.g. publication
  date, which in a living review shows how the evidence accumulated [lau1992].

The study-level transformation (and continuity correction, which depends only on each study's
own counts) is the same in every subset, so every row is the meta-analysis one would get on that
subset. Every row of the returned table comes with the subset's own ``notes``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from analysis.engine.metaprop import metaprop, validate_counts
from analysis.engine.results import MetaPropResult

__all__ = ["SUBSET_COLUMNS", "cumulative", "leave_one_out", "sort_order"]

#: Columns shared by both tables (after the first, ``omitted`` or ``added``).
SUBSET_COLUMNS: tuple[str, ...] = (
    "k", "estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "mu", "se", "tau2", "i2",
    "i2_q", "q", "q_pvalue", "notes",
)


def _row(first: str, label: str, res: MetaPropResult) -> dict[str, Any]:
    values = {name: getattr(res, name) for name in SUBSET_COLUMNS if name != "notes"}
    return {first: label, **values, "notes": "; ".join(res.notes)}


def _prepare(events: Any, n: Any, labels: Any,
             options: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], dict[str, Any]]:
    data = options.pop("data", None)
    x, nn, labs = validate_counts(events, n, labels, data)
    return x, nn, labs, options


def leave_one_out(events: Any, n: Any, *, labels: Any = None, **metaprop_options: Any) -> pd.DataFrame:
    """Meta-analysis omitting each study in turn (metafor ``leave1out``).

    Parameters
    ----------
    events, n : sequence of int, or column names of ``data``
        Event counts and sample sizes (validated by :func:`analysis.engine.metaprop.validate_counts`).
    labels : sequence of str, or a column name of ``data``, optional
        Unique study labels; default "Study 1", "Study 2", ...
    **metaprop_options
        Passed to :func:`analysis.engine.metaprop.metaprop` (``measure``, ``method``, ``ci``, ``pi``,
        ``level``, ``cc``, ``data``, ...).

    Returns
    -------
    pandas.DataFrame
        One row per omitted study, in data order: ``omitted`` (its label) and
        :data:`SUBSET_COLUMNS` -- pooled proportion and its CI and PI (display scale), ``mu``
        and ``se`` (measure scale), ``tau2``, ``i2`` (percent, from tau^2), ``i2_q``
        (percent, from Q), Cochran's ``q`` and its p-value, and the subset's ``notes``.

    Raises
    ------
    ValueError
        For invalid input (naming the study), or k < 2.
    """
    x, nn, labs, opts = _prepare(events, n, labels, dict(metaprop_options))
    if len(labs) < 2:
        raise ValueError(f"leave-one-out needs at least 2 studies; got k = {len(labs)}")
    rows = []
    for i, lab in enumerate(labs):
        keep = np.arange(len(labs)) != i
        res = metaprop(x[keep], nn[keep], labels=[s for s, k in zip(labs, keep, strict=True) if k],
                       **opts)
        rows.append(_row("omitted", lab, res))
    return pd.DataFrame(rows, columns=["omitted", *SUBSET_COLUMNS])


def _is_missing(value: Any) -> bool:
    """None, NaN, NA or NaT (of any type)."""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def sort_order(keys: Sequence[Any], labels: Sequence[str]) -> list[int]:
    """Indices that sort ``keys`` ascending, ties kept in data order (a stable sort, as R's
    ``order``); ValueError naming the study for a missing or incomparable key."""
    if len(keys) != len(labels):
        raise ValueError(f"order has {len(keys)} values but there are {len(labels)} studies")
    for key, lab in zip(keys, labels, strict=True):
        if _is_missing(key):
            raise ValueError(f"study {lab!r}: the ordering value is missing")
    try:
        return sorted(range(len(keys)), key=lambda i: keys[i])
    except TypeError as err:
        raise ValueError(f"order values cannot be compared with each other ({err}); use one type, "
                         "e.g. all dates or all numbers") from None


def cumulative(events: Any, n: Any, order: Any = None, *, labels: Any = None,
               **options: Any) -> pd.DataFrame:
    """Cumulative meta-analysis, adding one study at a time in a given order (metafor ``cumul``).

    Parameters
    ----------
    events, n : sequence of int, or column names of ``data``
    order : sequence, or a column name of ``data``, optional
        Sort key per study (publication dates, years, ...); studies are added in ascending
        order of the key, ties in data order (as metafor's ``cumul(x, order)`` in metafor
        >= 3.8, which sorts by the values given). None keeps the data order. To add the newest
        first, pass e.g. the negated year.
    labels : sequence of str, or a column name of ``data``, optional
    **options
        Passed to :func:`analysis.engine.metaprop.metaprop`.

    Returns
    -------
    pandas.DataFrame
        One row per step: ``added`` (label of the study added at that step) and
        :data:`SUBSET_COLUMNS` for the first ``k`` studies. The first row is the single first
        study (no pooling; its prediction interval equals its CI, see ``notes``).

    Raises
    ------
    ValueError
        For invalid counts (naming the study), a missing ordering value (naming the study) or
        mismatched lengths.
    """
    opts = dict(options)
    data = opts.get("data")
    x, nn, labs, opts = _prepare(events, n, labels, opts)
    if order is None:
        idx = list(range(len(labs)))
    else:
        if data is not None and isinstance(order, str):
            if order not in data.columns:
                raise ValueError(f"order column {order!r} not found in data")
            keys = list(data[order])
        else:
            keys = list(order) if not isinstance(order, str) else [order]
        idx = sort_order(keys, labs)
    rows = []
    for step in range(1, len(idx) + 1):
        sel = idx[:step]
        res = metaprop(x[sel], nn[sel], labels=[labs[i] for i in sel], **opts)
        rows.append(_row("added", labs[sel[-1]], res))
    return pd.DataFrame(rows, columns=["added", *SUBSET_COLUMNS])
