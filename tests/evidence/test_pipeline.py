"""The analysis plan and its orchestration (:mod:`analysis.evidence.pipeline`).

The study and outcome tables here are SYNTHETIC (ids ``synth...``), built so that the right rows
per outcome, their order and the pooling decision can be written down by hand. Every fitted number
is compared with :func:`analysis.engine.metaprop` called directly on the rows that should have been
selected, with the plan's options. The last part checks the review's real
``data/analysis_plan.yaml`` against the data contract.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from analysis import metaprop
from analysis.evidence.pipeline import (
    ENGINE_OPTIONS,
    OutcomeSynthesis,
    Plan,
    cumulative_order,
    engine_options,
    fit_rows,
    outcome_rows,
    select_studies,
    sensitivity_methods,
    sensitivity_subsets,
    synthesise,
)

ROOT = Path(__file__).resolve().parents[2]
PLAN_RAW = yaml.safe_load((ROOT / "data" / "analysis_plan.yaml").read_text(encoding="utf-8"))

# SYNTHETIC studies: ids in alphabetical order differ from publication order on purpose.
STUDIES = pd.DataFrame(
    {
        "study_id": ["synthz2018", "synthb2019", "synthc2019", "synthm", "synthawait", "synthctx", "synthexcl"],
        "status": ["included", "included", "included", "included", "awaiting_data", "included", "excluded"],
        "evidence": ["post", "post", "post", "post", "post", "context", "post"],
        "design": ["case_series", "case_series", "case_report", "case_series", "case_series", "case_series",
                   "case_series"],
        "publication_date": ["2018-06-01", "2019-01-15", "2019-01-15", None, "2017-01-01", "2010-01-01",
                             "2016-01-01"],
        "source": ["auto", "allo", "auto", "allo", "auto", "allo", "auto"],
    }
)

# SYNTHETIC outcome rows, deliberately not in any useful order.
OUTCOMES = pd.DataFrame.from_records(
    [
        ("synthm", "recovery", 9, 10, "verified_fulltext"),
        ("synthctx", "recovery", 30, 40, "verified_fulltext"),
        ("synthc2019", "recovery", 1, 1, "verified_abstract"),
        ("synthawait", "recovery", 5, 5, "verified_fulltext"),
        ("synthz2018", "recovery", 12, 15, "derived"),
        ("synthexcl", "recovery", 2, 9, "verified_fulltext"),
        ("synthb2019", "recovery", 7, 11, "secondary"),
        ("synthb2019", "gvhd", 2, 11, "verified_fulltext"),
        ("synthctx", "gvhd", 4, 40, "verified_fulltext"),
    ],
    columns=["study_id", "outcome", "events", "total", "confidence"],
)

VOCABULARY = {
    "recovery": {"label": "Recovery", "role": "primary"},
    "gvhd": {"label": "GVHD"},
    "death": {"label": "Death", "role": "secondary"},
}

#: Chronological order of the included post studies (undated synthm last).
STUDY_ORDER = ["synthz2018", "synthb2019", "synthc2019", "synthm"]

PRIMARY = {"measure": "PLO", "method": "REML", "ci": "hksj_adhoc", "pi": "t", "level": 0.95}


def _plan(**changes: Any) -> Plan:
    raw: dict[str, Any] = {
        "evidence_sets": {
            "review": {"label": "SYNTHETIC review", "where": {"status": "included", "evidence": "post"}},
            "context": {"label": "SYNTHETIC context", "where": {"status": "included", "evidence": "context"}},
            "both": {"where": {"status": "included", "evidence": ["post", "context"]}},
        },
        "primary": PRIMARY,
        "min_studies_to_pool": 2,
        "sensitivity": {
            "methods": PLAN_RAW["sensitivity"]["methods"],
            "exclude_confidence": ["secondary", "derived"],
            "exclude_design": ["case_report"],
        },
    }
    raw.update(changes)
    return Plan.from_dict(raw)


def _same(res: Any, events: list[int], n: list[int], **options: Any) -> None:
    """``res`` equals metaprop called directly on these counts with these options."""
    direct = metaprop(events, n, **options)
    assert res.k == direct.k == len(n)
    assert res.studies["events"].tolist() == events
    assert res.studies["n"].tolist() == n
    for name in ("estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "tau2", "i2", "mu", "se"):
        assert math.isclose(getattr(res, name), getattr(direct, name), rel_tol=1e-12, abs_tol=1e-15), name
    for name in ("measure", "method", "ci", "pi", "level"):
        assert getattr(res, name) == getattr(direct, name)


# ---------------------------------------------------------------- plan
@pytest.mark.parametrize("missing", ["evidence_sets", "primary"])
def test_plan_missing_key_is_named(missing: str) -> None:
    raw = {"evidence_sets": {"review": {"where": {}}}, "primary": PRIMARY}
    del raw[missing]
    with pytest.raises(ValueError, match=f"required key '{missing}' is missing"):
        Plan.from_dict(raw)


def test_plan_defaults() -> None:
    plan = Plan.from_dict({"evidence_sets": {"review": {}}, "primary": PRIMARY})
    assert plan.min_studies_to_pool == 3
    assert plan.few_studies.min_studies_to_pool == 3
    assert (plan.few_studies.min_studies_heterogeneity, plan.few_studies.min_studies_prediction) == (5, 3)
    assert plan.few_studies.min_studies_i2 == 5  # the former name reads the same threshold
    assert plan.outcome_hierarchy == {}
    assert plan.primary_excludes == {}
    assert plan.subgroups == ()
    assert plan.sensitivity == {}
    assert plan.cumulative_order == "publication_date"


def test_plan_bad_minimum_names_the_key() -> None:
    with pytest.raises(ValueError, match="min_studies_to_pool"):
        Plan.from_dict({"evidence_sets": {}, "primary": PRIMARY, "min_studies_to_pool": "two"})


def test_engine_options_keep_only_engine_keys() -> None:
    entry = {"label": "x", "measure": "PAS", "method": "DL", "ci": "z", "pi": "z", "level": 0.9,
             "tau_prior_scale": 1.0, "note": "descriptive"}
    assert engine_options(entry) == {"measure": "PAS", "method": "DL", "ci": "z", "pi": "z", "level": 0.9,
                                     "tau_prior_scale": 1.0}
    assert set(ENGINE_OPTIONS) == {"measure", "method", "ci", "pi", "level", "tau_prior_scale",
                                   "mu_prior", "mu_prior_sd"}
    assert engine_options({"method": "BAYES_BN", "mu_prior": "normal", "mu_prior_sd": 1.5}) == {
        "method": "BAYES_BN", "mu_prior": "normal", "mu_prior_sd": 1.5}


# ---------------------------------------------------------------- selection
def test_select_studies_scalar_and_list() -> None:
    post = select_studies(STUDIES, {"status": "included", "evidence": "post"})
    assert post["study_id"].tolist() == ["synthz2018", "synthb2019", "synthc2019", "synthm"]
    both = select_studies(STUDIES, {"status": ["included"], "evidence": ["post", "context"]})
    assert both["study_id"].tolist() == ["synthz2018", "synthb2019", "synthc2019", "synthm", "synthctx"]
    assert select_studies(STUDIES, {})["study_id"].tolist() == STUDIES["study_id"].tolist()


def test_select_studies_unknown_column_is_named() -> None:
    with pytest.raises(ValueError, match="selection column 'evidense' is not in the study table"):
        select_studies(STUDIES, {"evidense": "post"})


def test_outcome_rows_selection_and_order() -> None:
    """Chronological, ties by study id, undated last; only the given studies; study columns joined."""
    post = select_studies(STUDIES, {"status": "included", "evidence": "post"})
    rows = outcome_rows(post, OUTCOMES, "recovery")
    assert rows["study_id"].tolist() == ["synthz2018", "synthb2019", "synthc2019", "synthm"]
    assert rows["events"].tolist() == [12, 7, 1, 9]
    assert rows["total"].tolist() == [15, 11, 1, 10]
    assert rows["design"].tolist() == ["case_series", "case_series", "case_report", "case_series"]
    assert rows["confidence"].tolist() == ["derived", "secondary", "verified_abstract", "verified_fulltext"]
    assert list(rows.index) == [0, 1, 2, 3]
    assert outcome_rows(post, OUTCOMES, "death").empty


def test_outcome_rows_keeps_the_outcome_table_columns_on_name_clash() -> None:
    studies = STUDIES.assign(confidence="from the study table")
    rows = outcome_rows(studies, OUTCOMES, "gvhd")
    assert rows["confidence"].tolist() == ["verified_fulltext", "verified_fulltext"]
    assert rows["study_id"].tolist() == ["synthctx", "synthb2019"]  # 2010 before 2019


# ---------------------------------------------------------------- synthesise
def test_synthesise_rows_results_and_pooling() -> None:
    plan = _plan()
    out = synthesise(STUDIES, OUTCOMES, VOCABULARY, plan)
    assert list(out) == ["recovery", "gvhd", "death"]

    rec = out["recovery"]
    assert isinstance(rec, OutcomeSynthesis)
    assert (rec.label, rec.role) == ("Recovery", "primary")
    assert rec.rows["study_id"].tolist() == ["synthz2018", "synthb2019", "synthc2019", "synthm"]
    assert (rec.k, rec.total_n, rec.pooled) == (4, 37, True)
    _same(rec.result, [12, 7, 1, 9], [15, 11, 1, 10], **PRIMARY)
    assert rec.result.studies["label"].tolist() == ["synthz2018", "synthb2019", "synthc2019", "synthm"]

    gvhd = out["gvhd"]
    assert (gvhd.label, gvhd.role) == ("GVHD", "secondary")  # role defaults to secondary
    assert (gvhd.k, gvhd.total_n, gvhd.pooled) == (1, 11, False)
    assert gvhd.result is None  # k = 1: no model at all
    assert gvhd.display == "single"
    study = gvhd.studies.iloc[0]
    assert (study["events"], study["n"], study["proportion"]) == (2, 11, 2 / 11)
    # exact Clopper-Pearson bounds of 2/11 (R: binom.test(2, 11)$conf.int)
    assert math.isclose(study["ci_lower"], 0.0228312, abs_tol=1e-7)
    assert math.isclose(study["ci_upper"], 0.5177559, abs_tol=1e-7)

    death = out["death"]
    assert (death.k, death.total_n, death.pooled, death.result) == (0, 0, False, None)


def test_synthesise_other_evidence_sets() -> None:
    plan = _plan()
    ctx = synthesise(STUDIES, OUTCOMES, VOCABULARY, plan, "context")
    assert ctx["recovery"].rows["study_id"].tolist() == ["synthctx"]
    assert ctx["recovery"].pooled is False
    both = synthesise(STUDIES, OUTCOMES, VOCABULARY, plan, "both")
    assert both["gvhd"].rows["study_id"].tolist() == ["synthctx", "synthb2019"]
    assert both["gvhd"].pooled is True
    _same(both["gvhd"].result, [4, 2], [40, 11], **PRIMARY)


def test_minimum_of_one_is_refused() -> None:
    """A single study is never pooled, whatever the plan says."""
    with pytest.raises(ValueError, match="min_studies_to_pool must be a whole number >= 2, got 1"):
        _plan(min_studies_to_pool=1)


@pytest.mark.parametrize(("minimum", "expected"), [(2, [True, False, False]), (3, [True, False, False]),
                                                   (4, [True, False, False]), (5, [False, False, False])])
def test_pooled_means_k_at_least_the_minimum(minimum: int, expected: list[bool]) -> None:
    out = synthesise(STUDIES, OUTCOMES, VOCABULARY, _plan(min_studies_to_pool=minimum))
    assert [s.pooled for s in out.values()] == expected
    assert [s.k for s in out.values()] == [4, 1, 0]


def test_synthesise_unknown_evidence_set() -> None:
    with pytest.raises(ValueError, match="no evidence set 'reveiw'"):
        synthesise(STUDIES, OUTCOMES, VOCABULARY, _plan(), "reveiw")


def test_synthesise_uses_the_label_column_when_present() -> None:
    labelled = OUTCOMES.assign(label=OUTCOMES["study_id"].str.replace("synth", "Synth "))
    out = synthesise(STUDIES, labelled, VOCABULARY, _plan())
    assert out["recovery"].result.studies["label"].tolist() == ["Synth z2018", "Synth b2019", "Synth c2019",
                                                                "Synth m"]


def test_to_dict_is_strict_json() -> None:
    out = synthesise(STUDIES, OUTCOMES, VOCABULARY, _plan())
    for synth in out.values():
        record = json.loads(json.dumps(synth.to_dict(), allow_nan=False))
        assert record["k"] == synth.k
        assert record["n"] == synth.total_n
        assert record["studies"] == synth.rows["study_id"].tolist()
        assert ("result" in record) == (synth.result is not None or synth.display == "single")
        if synth.display == "single":  # the study's own proportion and exact interval, not a model
            study = synth.studies.iloc[0]
            assert record["result"]["estimate"] == study["proportion"]
            assert record["result"]["ci_lower"] == study["ci_lower"]
            assert record["result"]["method"] == "single study"
            assert record["study_results"][0]["events"] == study["events"]
    rec = json.loads(json.dumps(out["recovery"].to_dict(), allow_nan=False))
    assert math.isclose(rec["result"]["estimate"], out["recovery"].result.estimate, rel_tol=1e-15)


def test_fit_rows_of_no_rows() -> None:
    assert fit_rows(OUTCOMES.iloc[0:0], PRIMARY) is None


# ---------------------------------------------------------------- sensitivity
def _recovery_rows() -> pd.DataFrame:
    post = select_studies(STUDIES, {"status": "included", "evidence": "post"})
    return outcome_rows(post, OUTCOMES, "recovery")


def test_sensitivity_methods_equal_direct_calls() -> None:
    """Each row is metaprop on the same rows with the primary options overridden by the entry's."""
    plan = _plan()
    table = sensitivity_methods(_recovery_rows(), plan)
    entries = PLAN_RAW["sensitivity"]["methods"]
    assert table["analysis"].tolist() == [e["label"] for e in entries]
    events, n = [12, 7, 1, 9], [15, 11, 1, 10]
    for row, entry in zip(table.to_dict(orient="records"), entries, strict=True):
        options = {k: entry[k] for k in ENGINE_OPTIONS if k in entry}
        direct = metaprop(events, n, labels=STUDY_ORDER, **{**PRIMARY, **options})
        assert direct.method == entry["method"] or direct.notes  # a fallback is recorded in the notes
        assert row["k"] == 4 and row["n"] == 37
        for name in ("estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "tau2", "i2"):
            assert math.isclose(row[name], getattr(direct, name), rel_tol=1e-9, abs_tol=1e-12), (entry["label"], name)
        assert row["notes"] == "; ".join(direct.notes)


def test_sensitivity_methods_label_falls_back_to_the_method() -> None:
    plan = _plan(sensitivity={"methods": [{"method": "DL", "ci": "z"}]})
    table = sensitivity_methods(_recovery_rows(), plan)
    assert table["analysis"].tolist() == ["DL"]
    direct = metaprop([12, 7, 1, 9], [15, 11, 1, 10], **{**PRIMARY, "method": "DL", "ci": "z"})
    assert math.isclose(table.loc[0, "ci_lower"], direct.ci_lower, rel_tol=1e-12)


def test_sensitivity_methods_without_methods_is_empty() -> None:
    assert sensitivity_methods(_recovery_rows(), _plan(sensitivity={})).empty


def test_sensitivity_subsets_equal_direct_calls() -> None:
    table = sensitivity_subsets(_recovery_rows(), _plan())
    assert table["analysis"].tolist() == [
        "Primary analysis",
        "Excluding data of confidence: secondary, derived",
        "Excluding designs: case_report",
    ]
    assert table["k"].tolist() == [4, 2, 3]
    # all; without synthz2018 (derived) and synthb2019 (secondary); without synthc2019 (case report)
    for i, (events, n) in enumerate([([12, 7, 1, 9], [15, 11, 1, 10]), ([1, 9], [1, 10]),
                                     ([12, 7, 9], [15, 11, 10])]):
        direct = metaprop(events, n, **PRIMARY)
        assert table.loc[i, "n"] == sum(n)
        for name in ("estimate", "ci_lower", "ci_upper", "tau2"):
            assert math.isclose(table.loc[i, name], getattr(direct, name), rel_tol=1e-12, abs_tol=1e-15)


def test_sensitivity_subset_that_removes_everything() -> None:
    rows = _recovery_rows()
    plan = _plan(sensitivity={"exclude_design": ["case_series", "case_report"]})
    table = sensitivity_subsets(rows, plan)
    assert table["analysis"].tolist() == ["Primary analysis", "Excluding designs: case_series, case_report"]
    assert table.loc[1, "k"] == 0
    assert table.loc[1, "notes"] == "no studies"
    assert np.isnan(table.loc[1, "estimate"])  # the table's gap, shown as an empty cell by the pages


def test_sensitivity_subsets_skip_missing_columns() -> None:
    rows = _recovery_rows().drop(columns=["design"])
    table = sensitivity_subsets(rows, _plan())
    assert table["analysis"].tolist() == ["Primary analysis",
                                          "Excluding data of confidence: secondary, derived"]


def test_cumulative_order() -> None:
    rows = _recovery_rows().iloc[[3, 1, 0, 2]].reset_index(drop=True)
    assert rows["study_id"].tolist() == ["synthm", "synthb2019", "synthz2018", "synthc2019"]
    order = cumulative_order(rows, _plan())
    assert rows.loc[order, "study_id"].tolist() == ["synthz2018", "synthb2019", "synthc2019", "synthm"]
    by_events = cumulative_order(rows, _plan(cumulative_order="events"))
    assert rows.loc[by_events, "events"].tolist() == [1, 7, 9, 12]


# ---------------------------------------------------------------- the review's plan
def _schema() -> dict[str, dict[str, Any]]:
    package = yaml.safe_load((ROOT / "data" / "datapackage.yaml").read_text(encoding="utf-8"))
    return {r["name"]: {f["name"]: f for f in r.get("schema", {}).get("fields", [])}
            for r in package["resources"] if isinstance(r.get("schema"), dict)}


def test_review_plan_loads() -> None:
    plan = Plan.from_dict(PLAN_RAW)
    assert "review" in plan.evidence_sets
    assert plan.min_studies_to_pool >= 1


def test_review_plan_refers_to_real_columns_and_values() -> None:
    """Every column and coded value the plan names exists in the data package schema."""
    fields = _schema()
    studies, outcomes = fields["studies"], fields["outcomes"]
    for name, spec in PLAN_RAW["evidence_sets"].items():
        for column, wanted in spec.get("where", {}).items():
            assert column in studies, f"evidence set {name}: no column {column}"
            allowed = studies[column].get("constraints", {}).get("enum")
            values = wanted if isinstance(wanted, list) else [wanted]
            assert allowed is None or set(values) <= set(allowed), (name, column, values)
    for spec in PLAN_RAW["subgroups"]:
        assert spec["column"] in studies, spec
        allowed = studies[spec["column"]].get("constraints", {}).get("enum")
        assert allowed is not None and set(spec["levels"]) <= set(allowed), spec
    assert PLAN_RAW["cumulative_order"] in studies
    confidence = outcomes["confidence"]["constraints"]["enum"]
    assert set(PLAN_RAW["sensitivity"]["exclude_confidence"]) <= set(confidence)
    design = studies["design"]["constraints"]["enum"]
    assert set(PLAN_RAW["sensitivity"].get("exclude_design", [])) <= set(design)
    for column, values in PLAN_RAW.get("primary_excludes", {}).items():
        assert column in studies or column in outcomes, column
        allowed = (studies.get(column) or outcomes.get(column) or {}).get("constraints", {}).get("enum")
        assert allowed is None or set(values) <= set(allowed), (column, values)


def test_review_plan_entries_are_engine_options() -> None:
    """No misspelt option silently dropped: every key is an engine option or the label."""
    assert set(PLAN_RAW["primary"]) <= set(ENGINE_OPTIONS)
    for entry in PLAN_RAW["sensitivity"]["methods"]:
        assert set(entry) <= {*ENGINE_OPTIONS, "label"}, entry
        metaprop([3, 4, 6], [10, 10, 10], **{**PLAN_RAW["primary"], **engine_options(entry)})


def test_protocol_amendments_name_sections_of_the_plan() -> None:
    """Each amendment names a key of the plan (its first part), or an outcome of the vocabulary
    (``outcomes.<id>``, data/outcomes.yaml), is dated and says whether results were seen."""
    import csv

    vocabulary = yaml.safe_load((ROOT / "data" / "outcomes.yaml").read_text(encoding="utf-8"))
    outcome_ids = {o["id"] for o in vocabulary["outcomes"]}

    with (ROOT / "data" / "protocol_amendments.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows, "the amendments record is empty"
    for row in rows:
        first, _, rest = row["section"].partition(".")
        if first == "outcomes":
            assert rest.split()[0] in outcome_ids, row["section"]
            continue
        assert first in PLAN_RAW, row["section"]
        assert row["after_results_seen"] in {"yes", "no"}
        assert row["reason"].strip() and row["change"].strip()
    assert [r["date"] for r in rows] == sorted(r["date"] for r in rows)  # kept in the order they were made


def test_the_snapshot_record_has_no_test_against_a_proportion_of_one_half() -> None:
    """``pvalue`` tests mu = 0 (50 % on the logit scale): left out of the snapshot; whether heterogeneity
    could be estimated is recorded instead."""
    from analysis.engine.metaprop import metaprop
    from analysis.evidence.fewstudies import FewStudyRules
    from analysis.evidence.pipeline import result_record

    res = metaprop([12, 26, 4], [12, 31, 5], method="GLMM", ci="t")  # SYNTHETIC
    record = result_record(res, FewStudyRules())
    assert "pvalue" not in record
    assert record["heterogeneity_estimable"] is False
    assert record["estimate"] == res.estimate and record["lrt"] == res.lrt
    five = metaprop([12, 26, 4, 9, 20], [12, 31, 5, 11, 25], method="GLMM", ci="t")
    assert result_record(five)["heterogeneity_estimable"] is True
