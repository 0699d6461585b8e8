"""The three services the review searches, as documented by their providers.

PubMed through NCBI E-utilities [eutils2010]
    ``esearch.fcgi`` (``db=pubmed``, ``retmode=json``) pages through ``esearchresult.idlist``
    with ``retstart``/``retmax`` until ``count`` identifiers are read; ``esummary.fcgi`` then
    gives, under ``result``, one summary per identifier listed in ``result.uids``: its
    ``title``, ``pubdate`` and ``articleids`` (``idtype`` ``pubmed``, ``doi``...). Each request
    carries ``tool`` and ``email`` (and ``api_key`` when ``NCBI_API_KEY`` is set).
Europe PMC through its REST ``search`` endpoint [europepmcrest2026]
    ``format=json``, ``resultType=lite``, ``pageSize``; cursor paging: the first request sends
    ``cursorMark=*`` and each next one the ``nextCursorMark`` of the previous answer, until it is
    absent, repeats, or a page is empty. Records are ``resultList.result[]`` with ``id``,
    ``source``, ``pmid``, ``doi``, ``title`` and ``pubYear``.
ClinicalTrials.gov through API v2 ``studies`` [ctgovapi2026]
    ``query.term``, ``pageSize``, ``format=json``, ``countTotal=true``; ``pageToken`` from the
    previous answer's ``nextPageToken`` until there is none. Each of ``studies[]`` has
    ``protocolSection.identificationModule`` with ``nctId``, ``briefTitle``, ``officialTitle``.

Optional fields may be missing and numbers may come as strings; a payload without the documented
structure raises :class:`~analysis.living.webclient.SourceError` naming the source and the field.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from analysis.living.webclient import Http, SourceError

__all__ = ["SERVICES", "Found", "Query", "Record", "Request", "first_request", "run_query"]


@dataclass(frozen=True)
class Record:
    """One record as a source returned it (identifiers as given; normalised later)."""

    source: str
    title: str = ""
    pmid: str = ""
    doi: str = ""
    nct_id: str = ""
    year: str = ""


@dataclass(frozen=True)
class Query:
    """One configured search: the source's id and name, the service, the query and its limits."""

    source: str
    name: str
    service: str
    query: str
    base_url: str
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    page_size: int = 100
    params: Mapping[str, str] = field(default_factory=dict)  # tool, email, api_key (PubMed)
    interval: float = 0.0


@dataclass(frozen=True)
class Request:
    """A GET request: URL and parameters (what ``--dry-run`` prints)."""

    url: str
    params: Mapping[str, Any]

    def text(self) -> str:
        shown = {k: ("***" if k == "api_key" else v) for k, v in self.params.items()}
        return "GET " + self.url + "?" + "&".join(f"{k}={v}" for k, v in shown.items())


@dataclass(frozen=True)
class Found:
    """What one query returned: the count the service reported and the records read."""

    query: Query
    reported: int
    records: tuple[Record, ...]

    @property
    def logged_query(self) -> str:
        """The query as logged: the text and the date limits applied."""
        return self.query.query + _limits_text(self.query)


def _limits_text(q: Query) -> str:
    if q.date_from is None and q.date_to is None:
        return ""
    return f" [dates {q.date_from or 'any'} to {q.date_to or 'any'}]"


# --------------------------------------------------------------------------- helpers
def _need(source: str, payload: Any, key: str, kind: type, where: str) -> Any:
    value = payload.get(key) if isinstance(payload, dict) else None
    if not isinstance(value, kind):
        raise SourceError(source, f"malformed response: {where}{key} is missing or not a "
                                  f"{'list' if kind is list else 'object'}")
    return value


def _int(source: str, value: Any, where: str) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        raise SourceError(source, f"malformed response: {where} is {value!r}, not a number") from None


def _str(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _year(text: str) -> str:
    match = re.search(r"\b(1[89]\d\d|2\d\d\d)\b", text or "")
    return match.group(1) if match else ""


# --------------------------------------------------------------------------- PubMed
def _esearch_request(q: Query, start: int) -> Request:
    params: dict[str, Any] = {"db": "pubmed", "term": q.query, "retmode": "json",
                              "retstart": start, "retmax": q.page_size}
    if q.date_from or q.date_to:
        params.update(datetype="pdat",
                      mindate=(q.date_from or dt.date(1800, 1, 1)).strftime("%Y/%m/%d"),
                      maxdate=(q.date_to or dt.date(3000, 1, 1)).strftime("%Y/%m/%d"))
    return Request(urljoin(q.base_url, "esearch.fcgi"), {**params, **q.params})


def _pubmed(http: Http, q: Query) -> Found:
    ids: list[str] = []
    count, start = None, 0
    while count is None or start < count:
        req = _esearch_request(q, start)
        payload = http.get_json(q.name, req.url, req.params, interval=q.interval)
        result = _need(q.name, payload, "esearchresult", dict, "")
        if "ERROR" in result and "idlist" not in result:
            raise SourceError(q.name, f"esearch error: {result['ERROR']}")
        count = _int(q.name, result.get("count", 0), "esearchresult.count")
        page = result.get("idlist") or []
        if not isinstance(page, list):
            raise SourceError(q.name, "malformed response: esearchresult.idlist is not a list")
        ids += [_str(i) for i in page if _str(i)]
        if not page:
            break
        start += len(page)
    ids = list(dict.fromkeys(ids))
    records = [r for chunk in _chunks(ids, 200) for r in _esummary(http, q, chunk)]
    return Found(q, count or 0, tuple(records))


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _esummary(http: Http, q: Query, ids: list[str]) -> list[Record]:
    url = urljoin(q.base_url, "esummary.fcgi")
    params = {"db": "pubmed", "id": ",".join(ids), "retmode": "json", **q.params}
    payload = http.get_json(q.name, url, params, interval=q.interval)
    result = _need(q.name, payload, "result", dict, "")
    records = []
    for uid in ids:
        doc = result.get(uid) if isinstance(result.get(uid), dict) else {}
        doi = pmid = ""
        for aid in doc.get("articleids") or []:
            if isinstance(aid, dict):
                kind, value = _str(aid.get("idtype")).lower(), _str(aid.get("value"))
                doi = doi or (value if kind == "doi" else "")
                pmid = pmid or (value if kind == "pubmed" else "")
        records.append(Record(q.source, title=_str(doc.get("title")), pmid=pmid or uid,
                              doi=doi, year=_year(_str(doc.get("pubdate")))))
    return records


# --------------------------------------------------------------------------- Europe PMC
def _europepmc_request(q: Query, cursor: str) -> Request:
    text = q.query
    if q.date_from or q.date_to:
        text = (f"({text}) AND (FIRST_PDATE:[{q.date_from or '1800-01-01'} TO "
                f"{q.date_to or '3000-01-01'}])")
    return Request(urljoin(q.base_url, "search"),
                   {"query": text, "format": "json", "resultType": "lite",
                    "pageSize": q.page_size, "cursorMark": cursor, **q.params})


def _europepmc(http: Http, q: Query) -> Found:
    cursor, seen, records, reported = "*", set(), [], None
    while cursor not in seen:
        seen.add(cursor)
        req = _europepmc_request(q, cursor)
        payload = http.get_json(q.name, req.url, req.params, interval=q.interval)
        if not isinstance(payload, dict):
            raise SourceError(q.name, "malformed response: not a JSON object")
        if reported is None:
            reported = _int(q.name, payload.get("hitCount", 0), "hitCount")
        result_list = payload.get("resultList") or {}
        page = result_list.get("result") if isinstance(result_list, dict) else None
        if page is None:
            page = []
        if not isinstance(page, list):
            raise SourceError(q.name, "malformed response: resultList.result is not a list")
        for item in page:
            if not isinstance(item, dict):
                raise SourceError(q.name, "malformed response: a resultList.result item is not an object")
            pmid = _str(item.get("pmid")) or (_str(item.get("id")) if item.get("source") == "MED" else "")
            records.append(Record(q.source, title=_str(item.get("title")), pmid=pmid,
                                  doi=_str(item.get("doi")), year=_str(item.get("pubYear"))))
        following = _str(payload.get("nextCursorMark"))
        if not page or not following:
            break
        cursor = following
    return Found(q, reported or 0, tuple(records))


# --------------------------------------------------------------------------- ClinicalTrials.gov
def _ctgov_request(q: Query, token: str | None) -> Request:
    params: dict[str, Any] = {"query.term": q.query, "pageSize": q.page_size, "format": "json",
                              "countTotal": "true"}
    if q.date_from or q.date_to:
        params["filter.advanced"] = (f"AREA[StudyFirstPostDate]RANGE[{q.date_from or 'MIN'},"
                                     f"{q.date_to or 'MAX'}]")
    if token:
        params["pageToken"] = token
    return Request(urljoin(q.base_url, "studies"), {**params, **q.params})


def _ctgov(http: Http, q: Query) -> Found:
    token: str | None = None
    seen: set[str | None] = set()
    records, reported = [], None
    while token not in seen:
        seen.add(token)
        req = _ctgov_request(q, token)
        payload = http.get_json(q.name, req.url, req.params, interval=q.interval)
        studies = _need(q.name, payload, "studies", list, "")
        if reported is None and payload.get("totalCount") is not None:
            reported = _int(q.name, payload["totalCount"], "totalCount")
        for study in studies:
            ident = (((study or {}).get("protocolSection") or {}).get("identificationModule")
                     if isinstance(study, dict) else None)
            if not isinstance(ident, dict) or not _str(ident.get("nctId")):
                raise SourceError(q.name, "malformed response: a study has no "
                                          "protocolSection.identificationModule.nctId")
            status = (study.get("protocolSection") or {}).get("statusModule") or {}
            first = _str((status.get("studyFirstPostDateStruct") or {}).get("date"))
            records.append(Record(q.source, title=_str(ident.get("briefTitle"))
                                  or _str(ident.get("officialTitle")),
                                  nct_id=_str(ident.get("nctId")), year=_year(first)))
        token = _str(payload.get("nextPageToken")) or None
        if token is None or not studies:
            break
    return Found(q, reported if reported is not None else len(records), tuple(records))


#: service name -> (function running a query, function giving its first request).
SERVICES: dict[str, tuple[Callable[[Http, Query], Found], Callable[[Query], Request]]] = {
    "eutils": (_pubmed, lambda q: _esearch_request(q, 0)),
    "europepmc": (_europepmc, lambda q: _europepmc_request(q, "*")),
    "ctgov": (_ctgov, lambda q: _ctgov_request(q, None)),
}


def run_query(http: Http, query: Query) -> Found:
    """Run one configured query to the end (every page) and return what it found."""
    return SERVICES[query.service][0](http, query)


def first_request(query: Query) -> Request:
    """The first request a query makes (later pages depend on the answers)."""
    return SERVICES[query.service][1](query)
