"""Helpers for the evidence-base tests: a temporary copy of the SYNTHETIC fixture.

The copy holds the SYNTHETIC tables of ``tests/fixtures/evidence`` with the review's real
``data/datapackage.yaml``, ``data/outcomes.yaml`` and ``data/analysis_plan.yaml`` (the
risk-of-bias items every included study must have), so the tests exercise the real descriptor.
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
SYNTHETIC_IPD = FIXTURES / "ipd" / "synthcd2021.csv"


def evidence_copy(tmp_path: Path, *, with_ipd: bool = False) -> Path:
    """Copy the SYNTHETIC evidence base to ``tmp_path``; return its data directory."""
    shutil.copytree(FIXTURES / "evidence", tmp_path, dirs_exist_ok=True)
    data = tmp_path / "data"
    for name in ("datapackage.yaml", "outcomes.yaml", "analysis_plan.yaml"):
        shutil.copy(ROOT / "data" / name, data / name)
    _add_empty_tables(data)
    if with_ipd:
        (data / "private").mkdir()
        shutil.copy(SYNTHETIC_IPD, data / "private" / SYNTHETIC_IPD.name)
    return data


def _add_empty_tables(data: Path) -> None:
    """Header-only files for CSV resources the fixture does not have yet (tables added later)."""
    from analysis.evidence.datapackage import read_descriptor

    for resource in read_descriptor(data / "datapackage.yaml").resources:
        path = data / str(resource.path)
        if resource.format == "csv" and resource.path and not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(",".join(resource.schema.names) + "\n", encoding="utf-8")


def set_cell(path: Path, line: int, column: str, value: str) -> None:
    """Set one cell of a CSV file (``line`` counts the header as line 1; one line per row)."""
    rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
    rows[line - 1][rows[0].index(column)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")


def copy_line(path: Path, line: int) -> None:
    """Append a copy of line ``line`` at the end of a file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([*lines, lines[line - 1]]) + "\n", encoding="utf-8")


def remove_column(path: Path, column: str) -> None:
    """Drop a column from a CSV file."""
    rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
    index = rows[0].index(column)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([r[:index] + r[index + 1 :] for r in rows])
    path.write_text(out.getvalue(), encoding="utf-8")


def review_copy(dest: Path) -> Path:
    """A copy of the real review at ``dest`` for tests that build pages or results from it.

    ``data/`` without any private file (an empty ``data/private/`` is made), the bibliography,
    ``VERSION``, ``CITATION.cff`` and ``_config.yml``, and empty ``book/`` and ``results/``
    folders (no released snapshot). Returns ``dest``.
    """
    shutil.copytree(ROOT / "data", dest / "data", ignore=shutil.ignore_patterns("private"))
    for name in ("references.bib", "VERSION", "CITATION.cff", "_config.yml"):
        shutil.copy2(ROOT / name, dest / name)
    for folder in ("data/private", "book", "results"):
        (dest / folder).mkdir(parents=True, exist_ok=True)
    return dest
