"""Stages that do nothing when their inputs did not change (analysis.living.stages)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from analysis.living.stages import Budget, Stage, files_digest, matched, run_stage, up_to_date


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "data" / "sub").mkdir(parents=True)
    (root / "data" / "a.csv").write_text("x\n1\n")
    (root / "data" / "sub" / "b.yaml").write_text("k: 1\n")
    (root / "_build" / "html").mkdir(parents=True)
    (root / ".venv").mkdir()
    (root / ".venv" / "big.py").write_text("pass\n")
    (root / "data" / "__pycache__").mkdir()
    (root / "data" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    return root


class Counter:
    """A stage body that writes its output from its input and counts its runs."""

    def __init__(self, root: Path, ok: bool = True) -> None:
        self.root, self.ok, self.runs = root, ok, 0

    def __call__(self) -> bool:
        self.runs += 1
        text = (self.root / "data" / "a.csv").read_text()
        (self.root / "_build" / "html" / "out.txt").write_text(text.upper())
        return self.ok


def _stage(root: Path, body: Counter, key: tuple[str, ...] = ()) -> Stage:
    return Stage("copy", ("data/*",), ("_build/html/*",), body, ("_build", ".venv"), key)


def test_matched_crosses_folders_and_skips_excluded_and_caches(tmp_path: Path) -> None:
    root = _project(tmp_path)
    assert matched(root, ("*",), ("_build", ".venv")) == ["data/a.csv", "data/sub/b.yaml"]
    assert matched(root, ("data/*.csv",)) == ["data/a.csv"]
    assert matched(root, ("nowhere/*",)) == []


def test_files_digest_is_sha256_of_names_and_contents(tmp_path: Path) -> None:
    root = _project(tmp_path)
    expected = hashlib.sha256(b"data/a.csv\0x\n1\n\0" + b"\2today\0").hexdigest()
    assert files_digest(root, ["data/a.csv"], ["today"]) == expected


def test_second_run_is_skipped_and_a_content_change_runs_again(tmp_path: Path) -> None:
    root, records = _project(tmp_path), tmp_path / "records"
    body = Counter(root)
    stage = _stage(root, body)
    assert run_stage(stage, root, records)[:2] == (True, True)
    assert up_to_date(stage, root, records)
    assert run_stage(stage, root, records)[:2] == (True, False)
    assert body.runs == 1
    (root / "data" / "a.csv").write_text("x\n2\n")
    assert run_stage(stage, root, records)[:2] == (True, True)
    assert (root / "_build" / "html" / "out.txt").read_text() == "X\n2\n"
    assert body.runs == 2


def test_touch_alone_changes_nothing_but_a_new_file_does(tmp_path: Path) -> None:
    root, records = _project(tmp_path), tmp_path / "records"
    body = Counter(root)
    run_stage(_stage(root, body), root, records)
    os.utime(root / "data" / "a.csv", (1, 1))
    assert run_stage(_stage(root, body), root, records)[1] is False
    (root / "data" / "c.csv").write_text("new\n")
    assert run_stage(_stage(root, body), root, records)[1] is True


def test_excluded_and_cache_folders_are_not_inputs(tmp_path: Path) -> None:
    root, records = _project(tmp_path), tmp_path / "records"
    body = Counter(root)
    stage = Stage("all", ("*",), ("_build/html/*",), body, ("_build", ".venv"))
    run_stage(stage, root, records)
    (root / ".venv" / "big.py").write_text("changed\n")
    (root / "data" / "__pycache__" / "x.pyc").write_bytes(b"\1")
    assert run_stage(stage, root, records)[1] is False


def test_an_output_edited_or_removed_runs_the_stage_again(tmp_path: Path) -> None:
    root, records = _project(tmp_path), tmp_path / "records"
    body = Counter(root)
    run_stage(_stage(root, body), root, records)
    (root / "_build" / "html" / "out.txt").write_text("edited by hand")
    assert run_stage(_stage(root, body), root, records)[1] is True
    (root / "_build" / "html" / "out.txt").unlink()
    assert run_stage(_stage(root, body), root, records)[1] is True
    assert body.runs == 3


def test_a_failed_stage_is_not_recorded(tmp_path: Path) -> None:
    root, records = _project(tmp_path), tmp_path / "records"
    failing = Counter(root, ok=False)
    assert run_stage(_stage(root, failing), root, records)[:2] == (False, True)
    assert run_stage(_stage(root, failing), root, records)[:2] == (False, True)
    assert failing.runs == 2


def test_the_key_parts_count(tmp_path: Path) -> None:
    root, records = _project(tmp_path), tmp_path / "records"
    body = Counter(root)
    run_stage(_stage(root, body, ("date=2026-12-07",)), root, records)
    assert run_stage(_stage(root, body, ("date=2026-12-07",)), root, records)[1] is False
    assert run_stage(_stage(root, body, ("date=2026-12-08",)), root, records)[1] is True


def test_a_check_without_outputs_runs_only_when_inputs_change(tmp_path: Path) -> None:
    root, records = _project(tmp_path), tmp_path / "records"
    runs = []
    check = Stage("check", ("data/*",), (), lambda: runs.append(1) or True)
    run_stage(check, root, records)
    run_stage(check, root, records)
    assert len(runs) == 1


def test_budget_lines() -> None:
    budget = Budget()
    budget.add("validation", None, "inputs unchanged")
    budget.add("chapters", 2.5)
    budget.add("  book/a", 1.25)
    text = budget.render(3.0)
    assert text.splitlines() == [
        "  validation    skipped  inputs unchanged",
        "  chapters       2.50 s",
        "    book/a       1.25 s",
        "  total          3.00 s",
    ]
