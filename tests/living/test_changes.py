"""Tests of analysis.living.changes on SYNTHETIC records (no real studies or results)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from analysis.living.changes import (
    estimate_changes,
    field_changes,
    history,
    record_changes,
    records_at,
)

OLD_STUDIES = [
    {"study_id": "synth2019", "n": 10, "design": "case_series", "notes": ""},
    {"study_id": "synth2020", "n": 12, "design": "case_series", "notes": "abstract"},
    {"study_id": "synth2021", "n": 7, "design": "case_report", "notes": ""},
]
NEW_STUDIES = [
    {"study_id": "synth2019", "n": 10, "design": "case_series", "notes": ""},
    {"study_id": "synth2020", "n": 14, "design": "retrospective_cohort", "notes": "abstract"},
    {"study_id": "synth2022", "n": 30, "design": "case_series", "notes": ""},
]


def _result(outcome, subgroup, est, lo, hi, k, n, certainty):
    return {
        "outcome": outcome,
        "subgroup": subgroup,
        "k": k,
        "n": n,
        "certainty": certainty,
        "result": {"estimate": est, "ci_lower": lo, "ci_upper": hi},
    }


OLD_RESULTS = [
    _result("synthetic_a", "all", 0.70, 0.50, 0.85, 3, 40, "very low"),
    _result("synthetic_b", "all", 0.20, 0.10, 0.35, 2, 30, "very low"),
    _result("synthetic_c", "all", 0.50, 0.30, 0.70, 2, 20, "low"),
]
NEW_RESULTS = [
    _result("synthetic_a", "all", 0.75, 0.60, 0.86, 4, 70, "low"),
    _result("synthetic_b", "all", 0.20, 0.10, 0.35, 2, 30, "very low"),
    _result("synthetic_d", "all", 0.10, 0.02, 0.30, 2, 25, "very low"),
]
NUMERIC = {
    "estimate": "result.estimate",
    "ci_lower": "result.ci_lower",
    "ci_upper": "result.ci_upper",
    "k": "k",
    "n": "n",
}


def test_record_changes_lists_added_removed_updated_with_fields() -> None:
    table = record_changes(OLD_STUDIES, NEW_STUDIES, "study_id")
    assert table.to_dict("records") == [
        {"study_id": "synth2020", "change": "updated", "fields": "n; design"},
        {"study_id": "synth2022", "change": "added", "fields": ""},
        {"study_id": "synth2021", "change": "removed", "fields": ""},
    ]


def test_field_changes_gives_old_and_new_values() -> None:
    table = field_changes(OLD_STUDIES, NEW_STUDIES, "study_id")
    assert table.to_dict("records") == [
        {"study_id": "synth2020", "field": "n", "old": 12, "new": 14},
        {
            "study_id": "synth2020",
            "field": "design",
            "old": "case_series",
            "new": "retrospective_cohort",
        },
    ]


def test_fields_and_ignore_restrict_the_comparison() -> None:
    only_design = record_changes(OLD_STUDIES, NEW_STUDIES, "study_id", fields=["design"])
    assert only_design.set_index("study_id").loc["synth2020", "fields"] == "design"
    ignoring_n = record_changes(OLD_STUDIES, NEW_STUDIES, "study_id", ignore=["n"])
    assert ignoring_n.set_index("study_id").loc["synth2020", "fields"] == "design"


def test_a_field_that_appears_is_a_change() -> None:
    old = [{"study_id": "s1", "n": 5}]
    new = [{"study_id": "s1", "n": 5, "doi": "10.0000/synthetic"}]
    assert field_changes(old, new, "study_id").to_dict("records") == [
        {"study_id": "s1", "field": "doi", "old": None, "new": "10.0000/synthetic"}
    ]


def test_no_change_gives_empty_tables_with_columns() -> None:
    table = record_changes(OLD_STUDIES, OLD_STUDIES, "study_id")
    assert table.empty and list(table.columns) == ["study_id", "change", "fields"]
    details = field_changes(OLD_STUDIES, OLD_STUDIES, "study_id")
    assert details.empty and list(details.columns) == ["study_id", "field", "old", "new"]


def test_mapping_of_records_is_accepted() -> None:
    old = {"s1": {"n": 5}, "s2": {"n": 6}}
    new = {"s1": {"n": 5}, "s2": {"n": 8}}
    assert record_changes(old, new, "study_id").to_dict("records") == [
        {"study_id": "s2", "change": "updated", "fields": "n"}
    ]


def test_duplicate_or_missing_key_is_named() -> None:
    dup = [{"study_id": "s1"}, {"study_id": "s1"}]
    with pytest.raises(ValueError, match="new records: study_id='s1' appears more than once"):
        record_changes([], dup, "study_id")
    with pytest.raises(ValueError, match="old record 1: key field"):
        record_changes([{"study_id": "s1"}, {"n": 3}], [], "study_id")


def test_estimate_changes_signed_differences_and_status() -> None:
    table = estimate_changes(
        OLD_RESULTS, NEW_RESULTS, ("outcome", "subgroup"), NUMERIC, {"certainty": "certainty"}
    )
    rows = table.set_index("outcome")
    assert list(rows["status"]) == ["changed", "unchanged", "added", "removed"]
    a = rows.loc["synthetic_a"]
    assert a["estimate_change"] == pytest.approx(0.05)
    assert a["ci_lower_change"] == pytest.approx(0.10)
    assert a["ci_upper_change"] == pytest.approx(0.01)
    assert a["k_change"] == 1 and a["n_change"] == 30
    assert (a["certainty_old"], a["certainty_new"]) == ("very low", "low")
    assert a["moved"] == "estimate; ci_lower; ci_upper; k; n; certainty"
    assert rows.loc["synthetic_b", "moved"] == ""
    assert pd.isna(rows.loc["synthetic_d", "estimate_old"])
    assert rows.loc["synthetic_d", "estimate_new"] == pytest.approx(0.10)
    assert pd.isna(rows.loc["synthetic_c", "estimate_change"])


def test_estimate_changes_column_types() -> None:
    table = estimate_changes(OLD_RESULTS, NEW_RESULTS, ("outcome", "subgroup"), NUMERIC)
    assert str(table["k_new"].dtype) == "Int64"
    assert str(table["estimate_new"].dtype) == "Float64"
    assert list(table.columns[:3]) == ["outcome", "subgroup", "status"]
    assert table.columns[-1] == "moved"


def test_tolerance_separates_noise_from_change() -> None:
    old = [_result("synthetic_a", "all", 0.7, 0.5, 0.85, 3, 40, "low")]
    noisy = [_result("synthetic_a", "all", 0.7 + 1e-12, 0.5, 0.85, 3, 40, "low")]
    table = estimate_changes(old, noisy, ("outcome", "subgroup"), NUMERIC)
    assert table.loc[0, "status"] == "unchanged"
    strict = estimate_changes(old, noisy, ("outcome", "subgroup"), NUMERIC, tolerance=0.0)
    assert strict.loc[0, "status"] == "changed" and strict.loc[0, "moved"] == "estimate"


def test_only_changed_drops_unchanged_rows() -> None:
    table = estimate_changes(
        OLD_RESULTS, NEW_RESULTS, ("outcome", "subgroup"), NUMERIC, only_changed=True
    )
    assert list(table["outcome"]) == ["synthetic_a", "synthetic_d", "synthetic_c"]


def test_non_numeric_value_in_numeric_field_is_named() -> None:
    bad = [dict(OLD_RESULTS[0], k="three")]
    with pytest.raises(ValueError, match=r"old synthetic_a, all\.k: 'three' is not a number"):
        estimate_changes(bad, NEW_RESULTS, ("outcome", "subgroup"), NUMERIC)


def test_history_one_row_per_version_and_record() -> None:
    versions = [
        ("26.0.0", "2026-01-10", {"outcomes": OLD_RESULTS}),
        ("26.1.0", "2026-06-01", {"outcomes": NEW_RESULTS}),
    ]
    table = history(versions, "outcomes", ("outcome", "subgroup"), {"estimate": "result.estimate"})
    a = table[table["outcome"] == "synthetic_a"]
    assert list(a["version"]) == ["26.0.0", "26.1.0"]
    assert list(a["estimate"]) == [0.70, 0.75]
    assert len(table) == 6  # absent records get no invented row
    assert list(table.columns) == ["version", "date", "outcome", "subgroup", "estimate"]


def test_records_at_errors_and_mappings() -> None:
    payload = {"a": {"b": [{"x": 1}]}, "m": {"s1": {"n": 2}}, "s": "text"}
    assert records_at(payload, "a.b") == [{"x": 1}]
    assert records_at(payload, "m", key="study_id") == [{"study_id": "s1", "n": 2}]
    with pytest.raises(ValueError, match="no records at 'missing'"):
        records_at(payload, "missing")
    with pytest.raises(ValueError, match="name the key"):
        records_at(payload, "m")
    with pytest.raises(ValueError, match="expected a list of records"):
        records_at(payload, "s")


def test_history_accepts_snapshot_objects() -> None:
    from analysis.living.snapshot import make_snapshot

    snaps = [
        make_snapshot(
            {"outcomes": records},
            version=version,
            date=date,
            trigger="synthetic",
            package_version="0",
            data_files={},
            private_data_used=False,
        )
        for version, date, records in (
            ("26.0.0", dt.date(2026, 1, 10), OLD_RESULTS),
            ("26.1.0", dt.date(2026, 6, 1), NEW_RESULTS),
        )
    ]
    table = history(snaps, "outcomes", ("outcome", "subgroup"), {"k": "k"})
    a = table[table["outcome"] == "synthetic_a"]
    assert list(a["date"]) == ["2026-01-10", "2026-06-01"] and list(a["k"]) == [3, 4]
