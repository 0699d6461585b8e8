"""Retries, Retry-After and errors of the HTTP helper (local server, SYNTHETIC answers)."""

from __future__ import annotations

import pytest
from pytest_httpserver import HTTPServer

from analysis.living.webclient import Http, RetryPolicy, SourceError, retry_policy_from_env

FAST = RetryPolicy(attempts=3, initial=0.0, maximum=0.0, timeout=5)


def test_retry_policy_from_env() -> None:
    assert retry_policy_from_env({}) == RetryPolicy()
    assert retry_policy_from_env({"ANALYSIS_SEARCH_RETRIES": "2", "ANALYSIS_SEARCH_RETRY_WAIT": "0"}).attempts == 2
    with pytest.raises(ValueError, match="RETRIES"):
        retry_policy_from_env({"ANALYSIS_SEARCH_RETRIES": "0"})


def test_503_twice_then_json(httpserver: HTTPServer) -> None:
    for _ in range(2):
        httpserver.expect_ordered_request("/x").respond_with_data("busy", status=503)
    httpserver.expect_ordered_request("/x").respond_with_json({"ok": 1})
    with Http(policy=FAST) as http:
        assert http.get_json("S", httpserver.url_for("/x"), {}) == {"ok": 1}


def test_attempts_are_counted_and_4xx_is_final(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/down").respond_with_data("busy", status=503)
    httpserver.expect_request("/gone").respond_with_data("no", status=404)
    with Http(policy=FAST) as http:
        with pytest.raises(SourceError, match=r"S: HTTP 503 .*after 3 attempts"):
            http.get_json("S", httpserver.url_for("/down"), {})
        with pytest.raises(SourceError, match="HTTP 404"):
            http.get_json("S", httpserver.url_for("/gone"), {})
    assert len([e for e in httpserver.log if e[0].path == "/down"]) == 3
    assert len([e for e in httpserver.log if e[0].path == "/gone"]) == 1


def test_a_refused_connection_names_the_source() -> None:
    with Http(policy=FAST) as http, pytest.raises(SourceError, match="S: no answer"):
        http.get_json("S", "http://127.0.0.1:9/", {})
