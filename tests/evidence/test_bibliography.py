"""BibTeX reading with bibtexparser 2: failed blocks become problems with their lines (SYNTHETIC entries)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.evidence.bibliography import (
    BibEntry,
    author_year,
    citation_labels,
    labelled_bibtex,
    parse_bibliography,
    read_bibtex_rows,
)
from tests.evidence_helpers import FIXTURES, ROOT

GOOD = FIXTURES / "evidence" / "references.bib"


def _bib(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "refs.bib"
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_entries_with_lines_and_fields() -> None:
    bib = parse_bibliography(GOOD)
    assert [e.key for e in bib.entries] == ["synthab2020", "synthcd2021", "synthef2022"]
    assert [e.line for e in bib.entries] == [2, 10, 18]
    assert bib.entries[2].entry_type == "inproceedings"
    assert bib.entries[0].fields["doi"] == "10.0000/synthetic.1"
    assert bib.problems == ()
    assert len(bib) == 3


def test_duplicate_key_keeps_the_first(tmp_path: Path) -> None:
    path = _bib(tmp_path, "@article{k1, title={A}}\n\n@book{k1, title={B}}\n")
    bib = parse_bibliography(path, recommended=())
    assert [str(p) for p in bib.problems] == [
        f"{path}:3: key: duplicate entry key 'k1'; first on line 1 (that one is kept)"
    ]
    assert [(e.key, e.fields["title"]) for e in bib.entries] == [("k1", "A")]


def test_duplicate_field_is_reported_and_entry_kept(tmp_path: Path) -> None:
    path = _bib(tmp_path, "@article{k2,\n  title = {A},\n  title = {B}\n}\n")
    bib = parse_bibliography(path, recommended=())
    assert [str(p) for p in bib.problems] == [f"{path}:1: title: entry 'k2' gives this field twice"]
    assert bib.keys == {"k2"}


def test_malformed_entry_gives_its_line(tmp_path: Path) -> None:
    text = "@article{ok1, title={Fine}}\n\n@article{bad2,\n  title = {unclosed,\n  year = 2020\n}\n\n@misc{ok3, title={Fine}}\n"
    path = _bib(tmp_path, text)
    bib = parse_bibliography(path, recommended=())
    assert len(bib.problems) == 1
    assert str(bib.problems[0]).startswith(f"{path}:3: -: malformed entry 'bad2': ")
    assert bib.keys == {"ok1", "ok3"}


def test_missing_doi_is_a_warning(tmp_path: Path) -> None:
    path = _bib(tmp_path, "@article{k3, title={A}, year={2020}}\n")
    bib = parse_bibliography(path)
    assert [(str(p), p.severity) for p in bib.problems] == [
        (f"{path}:1: doi: warning: entry 'k3' has no doi (recommended)", "warning")
    ]


def test_unreadable_files(tmp_path: Path) -> None:
    missing = parse_bibliography(tmp_path / "none.bib")
    assert [str(p) for p in missing.problems] == [f"{tmp_path / 'none.bib'}: file not found"]
    latin = tmp_path / "latin.bib"
    latin.write_bytes("@article{k4, title={Caf\u00e9}}\n".encode("latin-1"))
    assert "not valid UTF-8" in str(parse_bibliography(latin).problems[0])


def test_rows_for_the_data_package_checker() -> None:
    table, problems = read_bibtex_rows(GOOD, "references.bib")
    assert problems == []
    assert table is not None
    assert table.columns[:2] == ("key", "entry_type")
    assert [row.raw["key"] for row in table.rows] == ["synthab2020", "synthcd2021", "synthef2022"]
    assert [row.line for row in table.rows] == [2, 10, 18]


@pytest.mark.skipif(not (ROOT / "references.bib").exists(), reason="no references.bib yet")
def test_review_bibliography_has_no_failed_blocks() -> None:
    bib = parse_bibliography(ROOT / "references.bib")
    assert [p for p in bib.problems if p.severity == "error"] == []


# ---------------------------------------------------------------- "Surname year" labels
@pytest.mark.parametrize(
    ("author", "year", "expected"),
    [
        ("Rejeski, K. and Burchert, A. and others", "2022", "Rejeski 2022"),
        ("Kai Rejeski and Marion Subklewe", "2022", "Rejeski 2022"),
        ("Molinos-Quintana, Á. and Martínez-Cibrian, N.", "2025", "Molinos-Quintana 2025"),
        ("van Heteren, Pearl and Gagelmann, Nico", "2023", "van Heteren 2023"),
        ("Özdemir, Pinar", "2001", "Özdemir 2001"),
        ("Li", "2023", "Li 2023"),
        ("{Authors not verified}", "2024", None),
        ("Authors not verified", "2024", None),
        ("{[author list not read]}", "2024", None),
        ("[author list not read]", "2024", None),
        ("Rejeski, K.", "", None),
        ("", "2022", None),
    ],
)
def testauthor_year(author: str, year: str, expected: str | None) -> None:
    assert author_year({"author": author, "year": year}) == expected


def test_author_year_without_fields() -> None:
    assert author_year({}) is None
    assert author_year({"title": "SYNTHETIC"}) is None


def test_author_year_latex_accents() -> None:
    assert author_year({"author": "Ort{\\'i}z-Maldonado, Valent{\\'i}n", "year": "2021"}) == "Ortíz-Maldonado 2021"
    assert author_year({"author": "Y{\\'a}{\\~n}ez, Lucrecia", "year": "2019"}) == "Yáñez 2019"


def test_author_year_corporate_author() -> None:
    assert author_year({"author": "{The ASCO Post}", "year": "2022"}) == "The ASCO Post 2022"


# ---------------------------------------------------------------- citation labels (SYNTHETIC entries)
def _e(key: str, **fields: str) -> BibEntry:
    return BibEntry(key, "article", 1, fields)


def test_citation_labels_disambiguate_same_author_and_year_in_key_order() -> None:
    entries = [
        _e("smith2020b", author="Smith, A. and Jones, B.", year="2020"),
        _e("smith2020a", author="Smith, C.", year="2020"),
        _e("smith2021", author="Smith, A.", year="2021"),
        _e("jones2020", author="Jones, B.", year="2020"),
    ]
    labels = citation_labels(entries)
    assert labels == {"smith2020a": "Smith 2020a", "smith2020b": "Smith 2020b",
                      "smith2021": "Smith 2021", "jones2020": "Jones 2020"}


def test_citation_labels_three_of_a_kind_and_none() -> None:
    entries = [_e(f"x{i}", author="Doe, J.", year="1999") for i in range(3)]
    assert sorted(citation_labels(entries).values()) == ["Doe 1999a", "Doe 1999b", "Doe 1999c"]
    assert citation_labels([]) == {}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"author": "{[author list not read]}", "journal": "Blood Advances", "shortjournal": "Blood Adv", "year": "2024"},
         "Blood Adv 2024 (authors not yet identified)"),
        ({"author": "{Authors not verified}", "journal": "Bone Marrow Transplantation", "year": "2024"},
         "Bone Marrow Transplantation 2024 (authors not yet identified)"),
        ({"journal": "SYNTHETIC Journal", "year": "2001"}, "SYNTHETIC Journal 2001 (authors not yet identified)"),
        ({"author": "Authors not verified", "howpublished": "Conference abstract", "year": "2025"},
         "Conference abstract 2025 (authors not yet identified)"),
        ({"author": "Authors not verified", "year": "2025"}, "k"),  # nothing to name it by: the key
        ({"author": "Doe, J.", "journal": "J"}, "k"),  # no year: the key
    ],
)
def test_citation_labels_of_unknown_authors(fields: dict[str, str], expected: str) -> None:
    assert citation_labels([_e("k", **fields)]) == {"k": expected}


def test_unknown_authors_of_one_venue_and_year_are_disambiguated() -> None:
    entries = [_e(k, author="{[author list not read]}", journal="J", year="2024") for k in ("b", "a")]
    assert citation_labels(entries) == {"a": "J 2024a (authors not yet identified)",
                                        "b": "J 2024b (authors not yet identified)"}


def test_labelled_bibtex_rewrites_only_what_a_citation_shows() -> None:
    text = (
        "@article{doe2020a,\n  author = {Doe, J.},\n  title = {First},\n  year = {2020},\n  doi = {10.1/x}\n}\n\n"
        "@article{doe2020b,\n  author = {Doe, J.},\n  title = {Second},\n  year = {2020}\n}\n\n"
        "@article{unk2024,\n  author = {{[author list not read]}},\n  title = {T},\n  journal = {Blood Advances},\n"
        "  shortjournal = {Blood Adv},\n  year = {2024}\n}\n\n"
        "@article{roe2019,\n  author = {Roe, R.},\n  title = {Alone},\n  year = {2019}\n}\n"
    )
    out = {e.key: e.fields for e in _parse_text(labelled_bibtex(text))}
    assert out["doe2020a"]["year"] == "2020a" and out["doe2020b"]["year"] == "2020b"
    assert out["doe2020a"]["doi"] == "10.1/x" and out["doe2020a"]["title"] == "First"
    assert out["unk2024"]["author"] == "{Blood Adv (authors not yet identified)}"
    assert out["unk2024"]["year"] == "2024"
    assert out["roe2019"] == {"author": "Roe, R.", "title": "Alone", "year": "2019"}


def _parse_text(text: str) -> tuple[BibEntry, ...]:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.bib"
        path.write_text(text, encoding="utf-8")
        bib = parse_bibliography(path, recommended=())
    assert not bib.problems
    return bib.entries


def test_the_reviews_bibliography_gives_unique_labels() -> None:
    root = Path(__file__).resolve().parents[2]
    entries = parse_bibliography(root / "references.bib").entries
    labels = citation_labels(entries)
    assert len(set(labels.values())) == len(labels)
    assert not any("not read" in v or "not verified" in v for v in labels.values())


@given(st.lists(st.tuples(st.sampled_from(["Doe", "Roe", "van Heteren", ""]),
                          st.sampled_from(["1999", "2023", ""])), max_size=12))
@settings(max_examples=150, deadline=None)
def test_citation_labels_are_unique_and_keep_the_year(works: list[tuple[str, str]]) -> None:
    """Property (SYNTHETIC entries): one label per entry, no two alike, each ending in its year (+ a letter)."""
    entries = [
        _e(f"k{i}", **({"author": f"{who}, A."} if who else {"author": "{[author list not read]}", "journal": "J"}),
           **({"year": year} if year else {}))
        for i, (who, year) in enumerate(works)
    ]
    labels = citation_labels(entries)
    assert set(labels) == {e.key for e in entries}
    assert len(set(labels.values())) == len(labels)
    for entry in entries:
        year = entry.fields.get("year", "")
        label = labels[entry.key]
        if not year:
            assert label == entry.key
        else:
            assert re.search(rf" {year}[a-z]?( \(authors not yet identified\))?$", label), label
