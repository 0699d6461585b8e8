"""Living-review metadata (:mod:`analysis.living.version`): review version and date of the data."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import yaml

from analysis.living.version import data_date, read_version

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------- read_version
def test_read_version_strips_whitespace(tmp_path: Path) -> None:
    (tmp_path / "VERSION").write_text("  27.1.3\n\n", encoding="utf-8")
    assert read_version(tmp_path) == "27.1.3"
    assert read_version(str(tmp_path)) == "27.1.3"


def test_read_version_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read the review version") as info:
        read_version(tmp_path)
    assert str(tmp_path / "VERSION") in str(info.value)


@pytest.mark.parametrize("content", ["", "\n", "   \n\t\n"])
def test_read_version_empty_file_names_the_path(tmp_path: Path, content: str) -> None:
    (tmp_path / "VERSION").write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match="the file is empty") as info:
        read_version(tmp_path)
    assert str(tmp_path / "VERSION") in str(info.value)


def test_read_version_directory_names_the_path(tmp_path: Path) -> None:
    (tmp_path / "VERSION").mkdir()
    with pytest.raises(ValueError, match="cannot read the review version") as info:
        read_version(tmp_path)
    assert str(tmp_path / "VERSION") in str(info.value)


def test_review_version_has_the_documented_format() -> None:
    """The repository's VERSION is YY.MINOR.PATCH (calendar year first, as in 26.0.0)."""
    assert re.fullmatch(r"\d{2}\.\d+\.\d+", read_version(ROOT))


# ---------------------------------------------------------------- data_date
def test_data_date_is_the_latest_not_the_last() -> None:
    flow = {
        "versions": [
            {"version": "26.0.0", "search_date": dt.date(2026, 11, 25)},
            {"version": "27.0.0", "search_date": dt.date(2027, 3, 1)},
            {"version": "26.1.0", "search_date": dt.date(2027, 1, 15)},
        ]
    }
    assert data_date(flow) == dt.date(2027, 3, 1)


def test_data_date_accepts_iso_strings_and_skips_undated_versions() -> None:
    flow = {
        "versions": [
            {"version": "a", "search_date": "2026-12-31"},
            {"version": "b"},
            {"version": "c", "search_date": None},
            {"version": "d", "search_date": ""},
            {"version": "e", "search_date": dt.date(2026, 12, 30)},
        ]
    }
    assert data_date(flow) == dt.date(2026, 12, 31)


def test_data_date_parsed_yaml() -> None:
    """YAML turns an unquoted date into a date object and a quoted one into a string."""
    flow = yaml.safe_load(
        "versions:\n  - {version: '1', search_date: 2026-02-03}\n  - {version: '2', search_date: '2026-04-05'}\n"
    )
    assert isinstance(flow["versions"][0]["search_date"], dt.date)
    assert data_date(flow) == dt.date(2026, 4, 5)


@pytest.mark.parametrize("flow", [{}, {"versions": []}, {"versions": [{"version": "1"}]}])
def test_data_date_without_any_date_raises(flow: dict) -> None:
    with pytest.raises(ValueError, match="no version has a search_date"):
        data_date(flow)


def test_data_date_invalid_date_names_field_and_version() -> None:
    flow = {"versions": [{"version": "26.0.0", "search_date": "2026-13-01"}]}
    with pytest.raises(ValueError, match="search_date") as info:
        data_date(flow)
    assert "26.0.0" in str(info.value)


def test_data_date_of_this_review_is_a_recorded_search_date() -> None:
    flow = yaml.safe_load((ROOT / "data" / "search_flow.yaml").read_text(encoding="utf-8"))
    dates = {dt.date.fromisoformat(str(v["search_date"])) for v in flow["versions"]}
    assert data_date(flow) in dates
    assert all(data_date(flow) >= d for d in dates)
