"""The summary-of-findings rows of a snapshot (:mod:`analysis.living.export`). SYNTHETIC payloads."""

from __future__ import annotations

import math

from analysis.living.export import SOF_COLUMNS, summary_of_findings

RESULTS = {"outcomes": [  # SYNTHETIC
    {"evidence_set": "review", "subgroup": "all", "outcome": "resp", "label": "Response", "role": "primary",
     "display": "pooled", "pooled": True, "k": 3, "n": 48, "events": 42, "certainty": "very low",
     "reason": "3 studies pooled", "result": {"estimate": 0.875, "ci_lower": 0.52, "ci_upper": 0.98, "method": "GLMM"}},
    {"evidence_set": "review", "subgroup": "all", "outcome": "one", "label": "One", "role": "secondary",
     "display": "single", "pooled": False, "k": 1, "n": 12, "events": 12, "reason": "one study",
     "result": {"estimate": 1.0, "ci_lower": 0.74, "ci_upper": 1.0, "method": "single study"}},
    {"evidence_set": "review", "subgroup": "all", "outcome": "two", "label": "Two", "role": "secondary",
     "display": "side_by_side", "pooled": False, "k": 2, "n": 8, "events": 5, "reason": "2 studies",
     "study_results": [{"label": "A", "proportion": 1.0}]},
    {"evidence_set": "review", "subgroup": "source=auto", "outcome": "resp", "display": "pooled"},
    {"evidence_set": "context", "subgroup": "all", "outcome": "resp", "display": "pooled"},
]}


def test_one_row_per_outcome_of_the_set_without_subgroups() -> None:
    table = summary_of_findings(RESULTS)
    assert list(table.columns) == list(SOF_COLUMNS)
    assert table["outcome"].tolist() == ["resp", "one", "two"]
    first = table.iloc[0].to_dict()
    assert (first["estimate"], first["ci_lower"], first["ci_upper"], first["certainty"]) == (0.875, 0.52, 0.98, "very low")
    assert table.iloc[1]["method"] == "single study" and table.iloc[1]["estimate"] == 1.0
    side = table.iloc[2]
    assert all(math.isnan(side[c]) for c in ("estimate", "ci_lower", "ci_upper"))  # never filled in
    assert summary_of_findings(RESULTS, "context")["outcome"].tolist() == ["resp"]
    assert summary_of_findings({}).empty
