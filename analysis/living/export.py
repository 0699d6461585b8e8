"""Machine-readable exports of a results snapshot: the summary-of-findings rows as one table.

A program that wants the review's answers without parsing its pages reads the results snapshot
(``results.json``, documented by ``results.schema.json``) or this table, one row per outcome of an evidence set
(all studies, no subgroups), in the order of the outcome vocabulary:

========== =====================================================================================================
column     meaning
========== =====================================================================================================
outcome    outcome id
label      the outcome in words
role       ``primary`` or ``secondary``
display    how the site shows it: ``pooled``, ``single`` (one study, its own proportion and exact CI),
           ``side_by_side`` (studies not pooled, no estimate) or ``none`` (no study)
k, n       studies and patients
events     patients with the event, summed over the studies
estimate   the pooled proportion, or a single study's own proportion; empty when not pooled
ci_lower   lower bound of its 95% confidence interval (exact Clopper-Pearson interval for a single study)
ci_upper   upper bound
method     how the estimate was obtained (the plan's method, or "single study")
certainty  GRADE certainty of the evidence (when judged)
reason     why the outcome is shown as it is (the few-study rules)
========== =====================================================================================================

Nothing here knows a particular review: the rows come from the snapshot's ``outcomes`` records.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

__all__ = ["SOF_COLUMNS", "summary_of_findings"]

#: Columns of :func:`summary_of_findings`, in order.
SOF_COLUMNS = ("outcome", "label", "role", "display", "k", "n", "events", "estimate", "ci_lower", "ci_upper",
               "method", "certainty", "reason")


def summary_of_findings(results: Mapping[str, Any], evidence_set: str = "review") -> pd.DataFrame:
    """The summary-of-findings rows of a snapshot's ``results`` (one per outcome, all studies).

    Parameters
    ----------
    results : the ``results`` payload of a snapshot (``outcomes`` records).
    evidence_set : which evidence set's rows.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SOF_COLUMNS`; the estimate and its interval are empty (NaN) for an outcome that is not
        pooled, never filled in.
    """
    rows = []
    for record in results.get("outcomes") or []:
        if record.get("evidence_set") != evidence_set or record.get("subgroup", "all") != "all":
            continue
        result = record.get("result") or {}
        shown = record.get("display") in ("pooled", "single")
        rows.append({
            "outcome": record.get("outcome"), "label": record.get("label"), "role": record.get("role"),
            "display": record.get("display"), "k": record.get("k"), "n": record.get("n"),
            "events": record.get("events"),
            "estimate": result.get("estimate") if shown else None,
            "ci_lower": result.get("ci_lower") if shown else None,
            "ci_upper": result.get("ci_upper") if shown else None,
            "method": result.get("method") if shown else None,
            "certainty": record.get("certainty"), "reason": record.get("reason"),
        })
    frame = pd.DataFrame.from_records(rows, columns=list(SOF_COLUMNS))
    for column in ("estimate", "ci_lower", "ci_upper"):
        frame[column] = pd.to_numeric(frame[column]).astype(float)
    return frame
