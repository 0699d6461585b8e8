"""SYNTHETIC stand-ins of the three services' answers (documented formats; made-up records).

Every identifier and title here is SYNTHETIC: invented for the tests, not real records.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pytest_httpserver import HTTPServer

STRATEGY = """
contact: {tool: synthetic-tests, email: tests@example.org}
files: {screening: screening.csv, log: searches.csv}
known: {table: studies.csv, id: study_id, bibkey: bibkey, bibliography: ../references.bib}
sources:
  - {id: pubmed, name: PubMed, service: eutils, query: 'synthetic[tiab]', page_size: 2}
  - {id: europepmc, name: Europe PMC, service: europepmc, query: synthetic, page_size: 2}
  - {id: ctgov, name: ClinicalTrials.gov, service: ctgov, query: synthetic, page_size: 1}
"""

BIB = """@article{known2020,
  author = {Synthetic, A.},
  title = {A synthetic study already in the review},
  journal = {J Synth},
  year = {2020},
  doi = {10.9999/SYNTH.KNOWN},
}
"""

STUDIES = "study_id,bibkey,status\nknown2020,known2020,included\n"
LOG = ("search_id,search_date,source_id,source,purpose,query,rerun_of,rerun_result,records,hits,new_records,notes\n"
       "s0007,2020-01-01,handsearch,Hand search,identification,synthetic,,,3,,,SYNTHETIC\n")


def make_repo(root: Path, screening: str | None = None) -> Path:
    """A SYNTHETIC review folder: data/ with strategy, studies, log; references.bib."""
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    (data / "search_strategy.yaml").write_text(STRATEGY, encoding="utf-8")
    (data / "studies.csv").write_text(STUDIES, encoding="utf-8")
    (data / "searches.csv").write_text(LOG, encoding="utf-8")
    if screening is not None:
        (data / "screening.csv").write_text(screening, encoding="utf-8")
    (root / "references.bib").write_text(BIB, encoding="utf-8")
    return data


def serve_pubmed(server: HTTPServer, docs: dict[str, dict]) -> None:
    """esearch in pages of 2 (count as a string), then esummary."""
    ids = list(docs)
    for start in range(0, max(len(ids), 1), 2):
        server.expect_request("/esearch.fcgi", query_string={
            "db": "pubmed", "term": "synthetic[tiab]", "retmode": "json", "retstart": str(start),
            "retmax": "2", "tool": "synthetic-tests", "email": "tests@example.org"},
        ).respond_with_json({"header": {}, "esearchresult": {
            "count": str(len(ids)), "retmax": "2", "retstart": str(start), "idlist": ids[start:start + 2]}})
    result: dict = {"uids": ids}
    for uid, doc in docs.items():
        result[uid] = doc
    server.expect_request("/esummary.fcgi").respond_with_json({"header": {}, "result": result})


def serve_europepmc(server: HTTPServer, pages: list[list[dict]]) -> None:
    """Cursor pages; the last page repeats its cursor (the documented end)."""
    cursor = "*"
    for i, page in enumerate(pages):
        following = f"c{i + 1}" if i + 1 < len(pages) else cursor
        server.expect_request("/search", query_string={
            "query": "synthetic", "format": "json", "resultType": "lite", "pageSize": "2",
            "cursorMark": cursor}).respond_with_json({
                "hitCount": sum(len(p) for p in pages), "nextCursorMark": following,
                "resultList": {"result": page}})
        cursor = following


def serve_ctgov(server: HTTPServer, studies: list[dict]) -> None:
    """One study a page, nextPageToken until the last."""
    for i, study in enumerate(studies):
        params = {"query.term": "synthetic", "pageSize": "1", "format": "json", "countTotal": "true"}
        if i:
            params["pageToken"] = f"t{i}"
        body: dict = {"studies": [study], "totalCount": len(studies)}
        if i + 1 < len(studies):
            body["nextPageToken"] = f"t{i + 1}"
        server.expect_request("/studies", query_string=params).respond_with_json(body)


def study(nct: str, title: str) -> dict:
    """A ClinicalTrials.gov v2 study with only the identification module."""
    return {"protocolSection": {"identificationModule": {"nctId": nct, "briefTitle": title}}}


def env_for(server: HTTPServer) -> dict[str, str]:
    """Environment pointing the three services at the stand-in, with fast retries."""
    base = server.url_for("/")
    return {"ANALYSIS_EUTILS_URL": base, "ANALYSIS_EUROPEPMC_URL": base, "ANALYSIS_CTGOV_URL": base,
            "ANALYSIS_SEARCH_RETRY_WAIT": "0", "ANALYSIS_SEARCH_RETRIES": "3"}


TODAY = dt.date(2030, 1, 2)
