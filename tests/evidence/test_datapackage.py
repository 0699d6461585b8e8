"""The generic descriptor checker, on a small invented descriptor (no review column names)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from analysis.evidence.datapackage import (
    DescriptorError,
    check_package,
    parse_descriptor,
    read_descriptor,
)

DESCRIPTOR = """
name: toy
resources:
  - name: shelves
    path: shelves.csv
    schema:
      primaryKey: shelf
      fields:
        - {name: shelf, type: string, constraints: {required: true, pattern: "[A-Z][0-9]"}}
        - {name: capacity, type: integer, constraints: {minimum: 1, maximum: 100}}
        - {name: open, type: boolean}
  - name: boxes
    path: boxes.csv
    schema:
      primaryKey: [shelf, label]
      foreignKeys:
        - {fields: shelf, reference: {resource: shelves, fields: shelf}}
      x-required-if:
        - {field: note, when: "kind == 'fragile'"}
      x-empty-if:
        - {field: weight, when: "kind == 'plain' and size == 0", message: "an empty plain box has no weight"}
      fields:
        - {name: shelf, type: string, constraints: {required: true}}
        - {name: label, type: string, constraints: {required: true}}
        - {name: kind, type: string, constraints: {enum: [plain, fragile]}}
        - {name: colours, type: string, x-separator: "; ", constraints: {enum: [red, blue]}}
        - {name: filled, type: integer}
        - {name: size, type: integer}
        - {name: weight, type: number, constraints: {minimum: 0}}
        - {name: packed, type: date, x-partial-date: true}
        - {name: note, type: string, x-recommended: true}
  - name: moves
    path: moves.yaml
    x-records: moves
    x-min-rows: 1
    schema:
      fields:
        - {name: id, type: string, constraints: {required: true}}
        - {name: on, type: date}
        - name: legs
          type: array
          x-items: {fields: [{name: metres, type: integer, constraints: {minimum: 0}}]}
        - {name: total, type: integer}
x-rules:
  - {table: boxes, check: "filled <= size", column: filled}
  - {table: boxes, check: "size <= shelves.capacity", join: shelf, severity: warning}
  - {table: boxes, when: "kind == 'fragile'", check: "weight < 10"}
  - {table: moves, check: "total == sum(legs.metres)"}
"""


def write(tmp_path: Path, name: str, text: str) -> None:
    (tmp_path / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


@pytest.fixture
def base(tmp_path: Path) -> Path:
    write(tmp_path, "datapackage.yaml", DESCRIPTOR)
    write(tmp_path, "shelves.csv", "shelf,capacity,open\nA1,10,true\nB2,5,FALSE\n")
    write(
        tmp_path,
        "boxes.csv",
        """
        shelf,label,kind,colours,filled,size,weight,packed,note
        A1,x,plain,red; blue,1,2,3.5,2024-02,n
        A1,y,fragile,,0,4,9,2024-02-29,careful
        B2,z,,,,,,,
        """,
    )
    write(
        tmp_path,
        "moves.yaml",
        "moves:\n  - id: m1\n    on: 2024-01-01\n    legs:\n      - metres: 3\n      - metres: 4\n    total: 7\n",
    )
    return tmp_path


def problems(base: Path) -> list[str]:
    package = read_descriptor(base / "datapackage.yaml")
    return [str(p) for p in check_package(package, base, shown_base="").problems]


def test_valid_toy_package_has_one_warning_only(base: Path) -> None:
    # box z has no note (recommended) -> warning; nothing else
    assert problems(base) == ["boxes.csv:4: note: warning: no note for 'B2', 'z' (recommended)"]


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        (
            "A1,x,plain,red,1,2,3.5,2024-02,n,",
            "boxes.csv:2: -: expected 9 cells as in the header, found 10",
        ),
        (
            "A1,x,plain,red,one,2,3.5,2024-02,n",
            "boxes.csv:2: filled: expected a whole number, found 'one'",
        ),
        (
            "A1,x,plain,red,1,2,3;5,2024-02,n",
            "boxes.csv:2: weight: expected a number (digits, with . as decimal point), found '3;5'",
        ),
        (
            "A1,x,plain,red,1,2,nan,2024-02,n",
            "boxes.csv:2: weight: expected a number (digits, with . as decimal point), found 'nan'",
        ),
        ("A1,x,plain,red,1,2,-1,2024-02,n", "boxes.csv:2: weight: -1.0 is below the minimum 0"),
        (
            "A1,x,plain,red,1,2,3,2024-13,n",
            "boxes.csv:2: packed: expected a date YYYY-MM-DD or YYYY-MM, found '2024-13'",
        ),
        (
            "A1,x,plain,red; green,1,2,3,2024-02,n",
            "boxes.csv:2: colours: 'green' is not one of: red, blue",
        ),
        (
            "A1,x,heavy,red,1,2,3,2024-02,n",
            "boxes.csv:2: kind: 'heavy' is not one of: plain, fragile",
        ),
        (
            "C3,x,plain,red,1,2,3,2024-02,n",
            "boxes.csv:2: shelf: 'C3' is not found in shelves.csv (shelf); valid: A1, B2",
        ),
        (
            "A1,x,plain,red,3,2,3,2024-02,n",
            "boxes.csv:2: filled: check failed: filled <= size (filled = 3; size = 2)",
        ),
        ("A1,x,fragile,red,1,2,3,2024-02,", "boxes.csv:2: note: required when kind == 'fragile'"),
        (
            "A1,x,fragile,red,1,2,12,2024-02,n",
            "boxes.csv:2: weight: check failed: weight < 10 (weight = 12.0)",
        ),
        (
            "A1,y,plain,red,1,2,3,2024-02,n",
            "boxes.csv:3: shelf: duplicate shelf + label ('A1', 'y'); first on line 2",
        ),
    ],
)
def test_each_violation_is_named(base: Path, cell: str, message: str) -> None:
    lines = (base / "boxes.csv").read_text().splitlines()
    lines[1] = cell
    (base / "boxes.csv").write_text("\n".join(lines) + "\n")
    assert message in problems(base)


def test_joined_rule_can_be_a_warning(base: Path) -> None:
    lines = (base / "boxes.csv").read_text().splitlines()
    lines[1] = "B2,x,plain,red,1,7,3,2024-02,n"
    (base / "boxes.csv").write_text("\n".join(lines) + "\n")
    assert (
        "boxes.csv:2: size: warning: check failed: size <= shelves.capacity (size = 7; shelves.capacity = 5)"
        in problems(base)
    )


def test_missing_values_make_rules_not_applicable(base: Path) -> None:
    # row z has neither filled nor size: filled <= size is unknown, so it is not reported
    assert not any("boxes.csv:4:" in p and "check failed" in p for p in problems(base))


def test_types_and_patterns_of_other_table(base: Path) -> None:
    write(base, "shelves.csv", "shelf,capacity,open\na1,0,maybe\n")
    found = problems(base)
    assert "shelves.csv:2: shelf: 'a1' does not match pattern [A-Z][0-9]" in found
    assert "shelves.csv:2: capacity: 0 is below the minimum 1" in found
    assert (
        "shelves.csv:2: open: expected true or false (true, True, TRUE, 1, false, False, FALSE, 0), found 'maybe'"
        in found
    )


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (
            "capacity,shelf,open",
            "shelves.csv:1: -: columns are not in the schema order: shelf, capacity, open",
        ),
        ("shelf,capacity", "shelves.csv:1: open: column is missing"),
        (
            "shelf,capacity,open,extra",
            "shelves.csv:1: extra: column is not in the data package schema",
        ),
        ("shelf,shelf,open", "shelves.csv:1: shelf: column appears twice in the header"),
    ],
)
def test_header_problems(base: Path, header: str, message: str) -> None:
    write(base, "shelves.csv", header + "\n")
    assert message in problems(base)


def test_yaml_records_types_items_and_sums(base: Path) -> None:
    write(
        base,
        "moves.yaml",
        "moves:\n  - id: 5\n    on: 2024-01-01\n    legs:\n      - metres: 3\n      - metres: -4\n    total: 8\n  - id: m2\n    id: m3\n",
    )
    found = problems(base)
    assert "moves.yaml:2: id: expected text (in YAML, put the value in quotes), found 5" in found
    assert "moves.yaml:6: legs[2].metres: -4 is below the minimum 0" in found
    assert "moves.yaml:9: id: key appears twice in the same block" in found


def test_yaml_sum_rule(base: Path) -> None:
    write(
        base,
        "moves.yaml",
        "moves:\n  - id: m1\n    legs:\n      - metres: 3\n      - metres: 4\n    total: 8\n",
    )
    assert (
        "moves.yaml:6: total: check failed: total == sum(legs.metres) (total = 8; legs.metres = [3, 4])"
        in problems(base)
    )


def test_yaml_unknown_field_and_non_list(base: Path) -> None:
    write(base, "moves.yaml", "moves:\n  - id: m1\n    colour: red\n")
    assert "moves.yaml:3: colour: column is not in the data package schema" in problems(base)
    write(base, "moves.yaml", "moves: 3\n")
    assert "moves.yaml:1: moves: expected a list of records here" in problems(base)


def test_descriptor_problems_are_all_listed_with_lines(tmp_path: Path) -> None:
    write(
        tmp_path,
        "datapackage.yaml",
        """
        resources:
          - name: t
            path: t.csv
            schema:
              primaryKey: nope
              foreignKeys: [{fields: a, reference: {resource: ghost, fields: a}}]
              fields:
                - {name: a, type: integr}
                - {name: b, constraints: {pattern: "["}}
        x-rules:
          - {table: t, check: "__import__('os')"}
          - {table: t, check: "a <="}
          - {table: u, check: "a > 0"}
        """,
    )
    with pytest.raises(DescriptorError) as info:
        read_descriptor(tmp_path / "datapackage.yaml")
    text = str(info.value)
    assert ":8: type: type 'integr' is not one of" in text
    assert ":9: pattern: invalid regular expression" in text
    assert (
        ":11: check: rule \"__import__('os')\": only the functions sum, len, abs, min, max are allowed, with one argument"
        in text
    )
    assert ":12: check: cannot parse rule 'a <='" in text
    assert "primaryKey 'nope' is not a field" in text
    assert "foreign key to unknown ghost" in text
    assert "unknown table 'u'" in text


def test_descriptor_must_list_resources() -> None:
    with pytest.raises(DescriptorError, match="a list of resources is required"):
        parse_descriptor({"name": "x"})


def test_rules_must_name_existing_fields(tmp_path: Path) -> None:
    broken = DESCRIPTOR.replace('check: "filled <= size"', 'check: "filed <= size"').replace(
        "join: shelf, severity", "severity"
    )
    write(tmp_path, "datapackage.yaml", broken)
    with pytest.raises(DescriptorError) as info:
        read_descriptor(tmp_path / "datapackage.yaml")
    text = str(info.value)
    assert "rule 'filed <= size': 'filed' is not a field of boxes" in text
    assert "rule 'size <= shelves.capacity': shelves.capacity needs a join" in text


def test_malformed_descriptor_structure_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    write(
        tmp_path,
        "datapackage.yaml",
        "resources:\n  - name: a\n    path: a.csv\n    schema: {fields: [{name: b, constraints: 5}]}\n",
    )
    with pytest.raises(DescriptorError, match="structure is malformed"):
        read_descriptor(tmp_path / "datapackage.yaml")


def test_yaml_with_a_control_character_gives_its_line(base: Path) -> None:
    write(base, "moves.yaml", "moves:\n  - id: m1\n  - id: \x00\n")
    assert any(p.startswith("moves.yaml:3: -: invalid YAML:") for p in problems(base))


def test_empty_if_refuses_a_value_where_the_condition_holds(base: Path) -> None:
    write(base, "boxes.csv", "shelf,label,kind,colours,filled,size,weight,packed,note\n"
          "A1,x,plain,,,0,2,,n\nA1,y,plain,,,0,,,n\nA1,z,,,,0,3,,n\n")
    assert problems(base) == ["boxes.csv:2: weight: an empty plain box has no weight"]  # z: kind unknown


def test_min_rows_counts_the_records(base: Path) -> None:
    write(base, "moves.yaml", "moves: []\n")
    assert "moves.yaml:1: -: the file has 0 data rows; at least 1 row expected" in problems(base)


def test_malformed_conditionals_are_descriptor_errors(tmp_path: Path) -> None:
    broken = DESCRIPTOR.replace("- {field: weight, when:", "- {field: weight, wen:")
    write(tmp_path, "datapackage.yaml", broken)
    with pytest.raises(DescriptorError, match=r"x-empty-if.*each entry needs a field and a when condition"):
        read_descriptor(tmp_path / "datapackage.yaml")


@pytest.mark.parametrize(("label", "expected"), [
    ("abcd", None),  # at the limit
    ("abcde", "boxes.csv:2: label: 'abcde' is 5 characters long; at most 4 allowed"),
    ("a", "boxes.csv:2: label: 'a' is 1 character long; at least 2 needed"),
    ("ab", None),
])
def test_length_constraints(tmp_path: Path, label: str, expected: str | None) -> None:
    write(tmp_path, "datapackage.yaml", """
        name: toy
        resources:
          - name: boxes
            path: boxes.csv
            schema:
              fields:
                - {name: label, type: string, constraints: {minLength: 2, maxLength: 4}}
        """)
    write(tmp_path, "boxes.csv", f"label\n{label}\n")
    found = [p for p in problems(tmp_path) if "label" in p]
    assert found == ([expected] if expected else [])
