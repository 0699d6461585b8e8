"""Line-aware CSV and YAML readers (analysis.evidence.readers): every value keeps its line."""

from __future__ import annotations

from pathlib import Path

from analysis.evidence.readers import load_yaml, read_csv_rows, read_text, read_yaml


def test_csv_rows_keep_their_lines_even_across_a_quoted_newline(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text('id,note\na,"two\nlines"\nb,plain\n', encoding="utf-8")
    table, problems = read_csv_rows(path, "t.csv")
    assert problems == []
    assert table is not None and table.columns == ("id", "note")
    assert [(r.line, r.raw["id"]) for r in table.rows] == [(2, "a"), (4, "b")]
    assert table.rows[0].raw["note"] == "two\nlines"


def test_csv_row_with_too_many_cells_is_named_by_line(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("id,note\na,x,extra\n", encoding="utf-8")
    _, problems = read_csv_rows(path, "t.csv")
    assert [str(p) for p in problems] == ["t.csv:2: -: expected 2 cells as in the header, found 3"]


def test_missing_and_undecodable_files_are_problems_not_tracebacks(tmp_path: Path) -> None:
    text, problems = read_text(tmp_path / "absent.csv", "absent.csv")
    assert text is None and len(problems) == 1 and problems[0].path == "absent.csv"
    bad = tmp_path / "latin1.csv"
    bad.write_bytes("id\ncaf\xe9\n".encode("latin-1"))
    text, problems = read_text(bad, "latin1.csv")
    assert text is None and "UTF-8" in str(problems[0])


def test_yaml_duplicate_keys_are_reported_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("a: 1\nb: 2\na: 3\n", encoding="utf-8")
    data, problems = read_yaml(path, "t.yaml")
    assert data is not None
    assert [str(p) for p in problems] == ["t.yaml:3: a: key appears twice in the same block"]


def test_invalid_yaml_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("a: [1, 2\nb: 3\n", encoding="utf-8")
    data, problems = read_yaml(path, "t.yaml")
    assert data is None and problems[0].message.startswith("invalid YAML")
    assert problems[0].line >= 1


def test_load_yaml_reads_a_plain_mapping(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text("primary: {method: REML}\nlist: [1, 2]\n", encoding="utf-8")
    assert load_yaml(path) == {"primary": {"method": "REML"}, "list": [1, 2]}


def test_a_missing_file_is_named_without_a_line_or_column(tmp_path: Path) -> None:
    _, problems = read_csv_rows(tmp_path / "absent.csv", "data/absent.csv")
    assert [str(p) for p in problems] == ["data/absent.csv: file not found"]


def test_an_unclosed_quote_is_placed_on_or_after_the_line_that_opens_it(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    body = ["id,note", *(f"r{i},x" for i in range(2, 20)), 'r20,"oops']
    path.write_text("\n".join([*body, *(f"r{i},x" for i in range(21, 31))]) + "\n", encoding="utf-8")
    _, problems = read_csv_rows(path, "t.csv")
    assert [str(p) for p in problems] == [
        ('t.csv:20: -: malformed CSV: the quoted cell opened in the record that starts here is never '
        'closed (a closing " is missing on line 20 or after it (the file ends at line 30))')
    ]
    path.write_text("\n".join(body) + "\n", encoding="utf-8")
    _, problems = read_csv_rows(path, "t.csv")
    assert [p.line for p in problems] == [20]
    assert problems[0].message.endswith('(a closing " is missing on line 20, the last line of the file)')
