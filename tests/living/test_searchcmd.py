"""``python -m analysis search`` against a local stand-in of the three services (SYNTHETIC data)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from tests.evidence_helpers import review_copy
from tests.living.searchfixtures import (
    env_for,
    make_repo,
    serve_ctgov,
    serve_europepmc,
    serve_pubmed,
    study,
)

ROOT = Path(__file__).resolve().parents[2]


def _run(root: Path, server: HTTPServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **env_for(server), "PYTHONPATH": str(ROOT)}
    env.pop("NCBI_API_KEY", None)
    return subprocess.run([sys.executable, "-m", "analysis", "search", "--date", "2030-01-02", *args],
                          cwd=root, env=env, capture_output=True, text=True, timeout=120, check=False)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _serve_all(server: HTTPServer) -> None:
    serve_pubmed(server, {
        "101": {"title": "Synthetic trial one", "pubdate": "2029 Mar",
                "articleids": [{"idtype": "pubmed", "value": "101"}, {"idtype": "doi", "value": "10.9999/one"}]},
        "102": {"title": "A synthetic study already in the review", "pubdate": "2020",
                "articleids": [{"idtype": "doi", "value": "10.9999/synth.known"}]},
        "103": {"title": "Synthetic report three", "pubdate": "2028", "articleids": []},
    })
    serve_europepmc(server, [
        [{"id": "101", "source": "MED", "pmid": "101", "doi": "https://doi.org/10.9999/ONE",
          "title": "Synthetic trial one", "pubYear": "2029"},
         {"id": "PPR1", "source": "PPR", "title": "Synthetic preprint four", "pubYear": "2029"}],
        [{"id": "PPR2", "source": "PPR", "doi": "10.9999/five", "title": "Synthetic report five"}],
    ])
    serve_ctgov(server, [study("NCT00000001", "Synthetic registered trial"),
                         study("NCT00000002", "Another synthetic registered trial")])


def test_a_search_queues_each_new_record_once(tmp_path: Path, httpserver: HTTPServer) -> None:
    data = make_repo(tmp_path)
    _serve_all(httpserver)
    proc = _run(tmp_path, httpserver)
    assert proc.returncode == 0, proc.stderr
    rows = _rows(data / "screening.csv")
    # 3 PubMed + 3 Europe PMC (one the same as PubMed 101) + 2 trials = 7 unique records
    assert len(rows) == 7
    one = [r for r in rows if r["pmid"] == "101"]
    assert len(one) == 1 and one[0]["sources"] == "pubmed;europepmc" and one[0]["doi"] == "10.9999/one"
    known = [r for r in rows if r["doi"] == "10.9999/synth.known"]
    assert known[0]["decision"] == "known" and known[0]["study_id"] == "known2020"
    trials = {r["nct_id"] for r in rows if r["nct_id"]}
    assert trials == {"NCT00000001", "NCT00000002"}
    assert sum(1 for r in rows if r["decision"] == "") == 6
    assert {r["first_found"] for r in rows} == {"2030-01-02"}
    log = _rows(data / "searches.csv")
    assert [r["source"] for r in log[1:]] == ["PubMed", "Europe PMC", "ClinicalTrials.gov"]
    assert [r["records"] for r in log[1:]] == ["3", "3", "2"]
    assert [r["new_records"] for r in log[1:]] == ["3", "2", "2"]
    assert log[0]["notes"] == "SYNTHETIC"
    # each query gets the next search id and its source id; every record read is a hit
    assert [(r["search_id"], r["source_id"], r["purpose"], r["hits"]) for r in log[1:]] == [
        ("s0008", "pubmed", "identification", "3"), ("s0009", "europepmc", "identification", "3"),
        ("s0010", "ctgov", "identification", "2")]
    hits = _rows(data / "search_hits.csv")
    by_id = {r["record_id"]: r for r in rows}
    assert len(hits) == 8 and {h["search_id"] for h in hits} == {"s0008", "s0009", "s0010"}
    assert [h["rank"] for h in hits if h["search_id"] == "s0009"] == ["1", "2", "3"]
    # PubMed 101 and Europe PMC's copy of it are two hits of one record: a duplicate
    one_hits = [h["search_id"] for h in hits if h["record_id"] == one[0]["record_id"]]
    assert one_hits == ["s0008", "s0009"]
    assert all(h["record_id"] in by_id for h in hits)


def test_a_second_run_adds_nothing_and_merges_a_changed_record(tmp_path: Path,
                                                                httpserver: HTTPServer) -> None:
    data = make_repo(tmp_path, screening=(
        "record_id,pmid,doi,nct_id,title,year,sources,first_found,last_found,decision,reason,study_id\n"
        "r0001,,,,Synthetic trial one,2029,europepmc,2029-06-01,2029-06-01,exclude,SYNTHETIC: off topic,\n"))
    _serve_all(httpserver)
    assert _run(tmp_path, httpserver).returncode == 0
    rows = _rows(data / "screening.csv")
    first = rows[0]
    # the record gained a PMID and a DOI: same row, decision and first date kept
    assert (first["pmid"], first["doi"], first["decision"], first["first_found"]) == (
        "101", "10.9999/one", "exclude", "2029-06-01")
    assert first["last_found"] == "2030-01-02" and len(rows) == 7
    before = (data / "screening.csv").read_text(encoding="utf-8")
    httpserver.clear()
    _serve_all(httpserver)
    assert _run(tmp_path, httpserver).returncode == 0
    assert (data / "screening.csv").read_text(encoding="utf-8") == before
    assert [r["new_records"] for r in _rows(data / "searches.csv")[-3:]] == ["0", "0", "0"]


def _snapshot(data: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(data.iterdir())}


@pytest.mark.parametrize("status", [503, 500, 429])
def test_a_source_that_stays_down_changes_nothing(tmp_path: Path, httpserver: HTTPServer,
                                                  status: int) -> None:
    data = make_repo(tmp_path)
    serve_pubmed(httpserver, {"101": {"title": "Synthetic trial one", "articleids": []}})
    serve_europepmc(httpserver, [[{"id": "PPR1", "source": "PPR", "title": "Synthetic preprint"}]])
    httpserver.expect_request("/studies").respond_with_data("down", status=status)
    before = _snapshot(data)
    proc = _run(tmp_path, httpserver)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
    assert "ClinicalTrials.gov" in proc.stderr and f"HTTP {status}" in proc.stderr
    assert _snapshot(data) == before


def test_every_source_answering_503_stops_at_the_first(tmp_path: Path, httpserver: HTTPServer) -> None:
    data = make_repo(tmp_path)
    httpserver.expect_request("/esearch.fcgi").respond_with_data("busy", status=503)
    before = _snapshot(data)
    proc = _run(tmp_path, httpserver)
    assert proc.returncode == 1 and "PubMed" in proc.stderr and "HTTP 503" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert _snapshot(data) == before


def test_429_then_success_is_retried(tmp_path: Path, httpserver: HTTPServer) -> None:
    data = make_repo(tmp_path)
    httpserver.expect_ordered_request("/esearch.fcgi").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "0"})
    httpserver.expect_ordered_request("/esearch.fcgi").respond_with_data("oops", status=502)
    httpserver.expect_ordered_request("/esearch.fcgi").respond_with_json(
        {"esearchresult": {"count": "1", "idlist": ["7"]}})
    httpserver.expect_ordered_request("/esummary.fcgi").respond_with_json(
        {"result": {"uids": ["7"], "7": {"title": "Synthetic seven"}}})
    httpserver.expect_request("/search").respond_with_json({"hitCount": 0, "resultList": {"result": []}})
    httpserver.expect_request("/studies").respond_with_json({"studies": []})
    proc = _run(tmp_path, httpserver)
    assert proc.returncode == 0, proc.stderr
    assert [r["pmid"] for r in _rows(data / "screening.csv")] == ["7"]


@pytest.mark.parametrize(("path", "body", "words"), [
    ("/esearch.fcgi", "<html>not json</html>", "not JSON"),
    ("/esearch.fcgi", '{"something": 1}', "esearchresult is missing"),
    ("/esearch.fcgi", '{"esearchresult": {"count": "many", "idlist": []}}', "esearchresult.count"),
])
def test_malformed_payloads_give_one_clear_line(tmp_path: Path, httpserver: HTTPServer,
                                                path: str, body: str, words: str) -> None:
    data = make_repo(tmp_path)
    httpserver.expect_request(path).respond_with_data(body, content_type="application/json")
    before = _snapshot(data)
    proc = _run(tmp_path, httpserver)
    assert proc.returncode == 1, proc.stdout
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
    assert "PubMed" in proc.stderr and words in proc.stderr
    assert _snapshot(data) == before


def test_a_malformed_registry_study_is_named(tmp_path: Path, httpserver: HTTPServer) -> None:
    make_repo(tmp_path)
    serve_pubmed(httpserver, {})
    httpserver.expect_request("/search").respond_with_json({"hitCount": "0", "resultList": {"result": []}})
    httpserver.expect_request("/studies").respond_with_json({"studies": [{"protocolSection": {}}]})
    proc = _run(tmp_path, httpserver)
    assert proc.returncode == 1 and "nctId" in proc.stderr and "Traceback" not in proc.stderr


def test_dry_run_prints_requests_and_touches_nothing(tmp_path: Path, httpserver: HTTPServer) -> None:
    data = make_repo(tmp_path)
    before = _snapshot(data)
    proc = _run(tmp_path, httpserver, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "esearch.fcgi?db=pubmed&term=synthetic[tiab]" in proc.stdout
    assert "/search?query=synthetic&format=json&resultType=lite" in proc.stdout
    assert "/studies?query.term=synthetic" in proc.stdout
    assert len(httpserver.log) == 0
    assert _snapshot(data) == before


def test_a_bad_strategy_is_one_line(tmp_path: Path, httpserver: HTTPServer) -> None:
    data = make_repo(tmp_path)
    (data / "search_strategy.yaml").write_text("sources:\n  - {id: x, name: X, service: gopher, query: q}\n")
    proc = _run(tmp_path, httpserver)
    assert proc.returncode == 2 and "sources[0].service" in proc.stderr and "Traceback" not in proc.stderr


def test_the_reviews_own_strategy_against_the_stand_in(tmp_path: Path, httpserver: HTTPServer) -> None:
    """The real data/ and references.bib; the answers are SYNTHETIC except the identifiers of
    studies already in the review (read from references.bib) and the registered trial."""
    root = review_copy(tmp_path)
    data = root / "data"
    before = {r["record_id"]: r for r in _rows(data / "screening.csv")}
    httpserver.expect_request("/esearch.fcgi").respond_with_json(
        {"esearchresult": {"count": "2", "idlist": ["37477866", "99999901"]}})
    httpserver.expect_request("/esummary.fcgi").respond_with_json({"result": {
        "uids": ["37477866", "99999901"],
        "37477866": {"title": "SYNTHETIC title of a known PMID", "articleids": []},
        "99999901": {"title": "SYNTHETIC new report", "articleids": [{"idtype": "doi", "value": "10.9999/new"}]}}})
    httpserver.expect_request("/search").respond_with_json({"hitCount": 2, "resultList": {"result": [
        {"id": "PPR9", "source": "PPR", "doi": "10.1182/BLOODADVANCES.2022008042", "title": "SYNTHETIC"},
        {"id": "99999901", "source": "MED", "pmid": "99999901", "title": "SYNTHETIC new report"}]}})
    httpserver.expect_request("/studies").respond_with_json(
        {"studies": [study("NCT06589089", "SYNTHETIC registry title")]})
    proc = _run(root, httpserver)
    assert proc.returncode == 0, proc.stderr
    rows = _rows(data / "screening.csv")
    for rid, row in before.items():  # nothing decided before is changed
        assert next(r for r in rows if r["record_id"] == rid) == row
    added = [r for r in rows if r["record_id"] not in before]
    by_key = {r["pmid"] or r["doi"] or r["nct_id"]: r for r in added}
    assert len(added) == 4
    assert (by_key["37477866"]["decision"], by_key["37477866"]["study_id"]) == ("known", "li2023")
    assert (by_key["10.1182/bloodadvances.2022008042"]["decision"],
            by_key["10.1182/bloodadvances.2022008042"]["study_id"]) == ("known", "gagelmann2023")
    assert by_key["NCT06589089"]["decision"] == "known" and "r0009" in by_key["NCT06589089"]["reason"]
    assert by_key["99999901"]["decision"] == "" and by_key["99999901"]["sources"] == "pubmed;europepmc"
    log = _rows(data / "searches.csv")
    assert [r["new_records"] for r in log[-3:]] == ["2", "1", "1"]
    assert "[dates" in log[-3]["query"]  # the date limits of the run are logged


def test_the_scheduled_workflow_runs_the_search_with_the_repository_token_only() -> None:
    import re

    import yaml

    text = (ROOT / ".github" / "workflows" / "search.yml").read_text(encoding="utf-8")
    workflow = yaml.safe_load(text)
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads the key `on` as True
    assert "schedule" in triggers and "workflow_dispatch" in triggers
    assert set(re.findall(r"secrets\.(\w+)", text)) <= {"NCBI_API_KEY"}
    runs = "\n".join(step.get("run", "") for step in workflow["jobs"]["search"]["steps"])
    assert "python -m analysis search" in runs and "gh pr create" in runs
    assert "prisma_flow_alt_text" in runs and "python -m analysis diff" in runs


def _pubmed_only(root: Path, contact: str) -> None:
    make_repo(root)
    (root / "data" / "search_strategy.yaml").write_text(
        f"contact: {contact}\nfiles: {{screening: screening.csv, log: searches.csv}}\n"
        "known: {table: studies.csv, id: study_id, bibkey: bibkey, bibliography: ../references.bib}\n"
        "sources:\n  - {id: pubmed, name: PubMed, service: eutils, query: 'synthetic[tiab]', page_size: 2}\n",
        encoding="utf-8")


def _eutils_requests(server: HTTPServer) -> list[dict[str, str]]:
    return [dict(request.args) for request, _ in server.log if request.path.endswith(".fcgi")]


def test_without_a_contact_email_no_empty_email_is_sent_and_the_command_says_so(
        tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    _pubmed_only(tmp_path, '{tool: synthetic-tests, email: ""}')
    httpserver.expect_request("/esearch.fcgi").respond_with_json({"header": {}, "esearchresult": {
        "count": "0", "retmax": "2", "retstart": "0", "idlist": []}})
    monkeypatch.delenv("NCBI_EMAIL", raising=False)
    proc = _run(tmp_path, httpserver)
    assert proc.returncode == 0, proc.stderr
    sent = _eutils_requests(httpserver)
    assert sent and all("email" not in params and params["tool"] == "synthetic-tests" for params in sent)
    assert proc.stderr.splitlines() == [
        ("search: note: no contact e-mail for NCBI (PubMed), which asks for one; set NCBI_EMAIL=you@example.org, "
        "or contact: email: in data/search_strategy.yaml")]


def test_ncbi_email_sets_the_contact_address_sent_to_pubmed(
        tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    _pubmed_only(tmp_path, '{tool: synthetic-tests, email: ""}')
    httpserver.expect_request("/esearch.fcgi").respond_with_json({"header": {}, "esearchresult": {
        "count": "0", "retmax": "2", "retstart": "0", "idlist": []}})
    monkeypatch.setenv("NCBI_EMAIL", "reviewer@example.org")
    proc = _run(tmp_path, httpserver)
    assert proc.returncode == 0, proc.stderr
    assert "no contact e-mail" not in proc.stderr
    assert [params["email"] for params in _eutils_requests(httpserver)] == ["reviewer@example.org"]
    dry = _run(tmp_path, httpserver, "--dry-run")
    assert "email=reviewer%40example.org" in dry.stdout or "email=reviewer@example.org" in dry.stdout
