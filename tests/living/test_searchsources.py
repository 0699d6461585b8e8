"""The services' request shapes (no network)."""

from __future__ import annotations

import datetime as dt

from analysis.living.searchsources import Query, first_request


def _q(service: str, **kw: object) -> Query:
    return Query("s", "S", service, "a b", "http://x/base/", **kw)  # type: ignore[arg-type]


def test_relative_paths_join_the_base() -> None:
    assert first_request(_q("eutils")).url == "http://x/base/esearch.fcgi"
    assert first_request(_q("europepmc")).url == "http://x/base/search"
    assert first_request(_q("ctgov")).url == "http://x/base/studies"


def test_date_limits_reach_each_service() -> None:
    lim = {"date_from": dt.date(2015, 1, 1), "date_to": dt.date(2030, 1, 2)}
    pub = first_request(_q("eutils", **lim)).params
    assert (pub["mindate"], pub["maxdate"], pub["datetype"]) == ("2015/01/01", "2030/01/02", "pdat")
    assert "FIRST_PDATE:[2015-01-01 TO 2030-01-02]" in first_request(_q("europepmc", **lim)).params["query"]
    assert first_request(_q("ctgov", **lim)).params["filter.advanced"] == (
        "AREA[StudyFirstPostDate]RANGE[2015-01-01,2030-01-02]")
    assert "mindate" not in first_request(_q("eutils")).params


def test_the_api_key_is_not_printed() -> None:
    text = first_request(_q("eutils", params={"api_key": "SECRET", "tool": "t"})).text()
    assert "SECRET" not in text and "api_key=***" in text
