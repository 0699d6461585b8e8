"""The repository root found from a subfolder (analysis.evidence.project), and the commands that use it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from analysis.evidence.project import ProjectRootError, default_path, find_root

ROOT = Path(__file__).resolve().parents[2]


def _review(root: Path) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "data" / "datapackage.yaml").write_text("resources: []\n", encoding="utf-8")
    (root / "book" / "deep").mkdir(parents=True)
    return root


def test_the_root_is_the_nearest_folder_with_the_descriptor(tmp_path: Path) -> None:
    root = _review(tmp_path / "review")
    assert find_root(root) == root.resolve()
    assert find_root(root / "book" / "deep") == root.resolve()
    assert default_path("data", root) == Path("data")
    assert default_path("data", root / "book") == Path("../data")
    assert default_path("data/search_strategy.yaml", root / "book" / "deep") == Path(
        "../../data/search_strategy.yaml")


def test_the_search_stops_at_the_top_of_a_git_repository(tmp_path: Path) -> None:
    _review(tmp_path)
    inner = tmp_path / "other-project"
    (inner / ".git").mkdir(parents=True)
    (inner / "src").mkdir()
    assert find_root(inner / "src") is None
    with pytest.raises(ProjectRootError, match=r"^no data/datapackage\.yaml in .*src or in any folder above "
                       r"it: run the command from the repository root"):
        default_path("data", inner / "src")


@pytest.mark.parametrize("command", [
    ["validate"], ["search", "--dry-run"], ["add-study", "nosuchkey1900"], ["ipd-summary", "nosuchstudy"],
])
def test_commands_run_from_a_subfolder_read_the_files_of_the_root(command: list[str]) -> None:
    here = subprocess.run([sys.executable, "-m", "analysis", *command], cwd=ROOT / "book",
                          capture_output=True, text=True, check=False, timeout=300)
    text = here.stdout + here.stderr
    assert "file not found" not in text and ":0:" not in text
    assert "datapackage.yaml" not in text, text
    if command[0] == "validate":
        assert here.returncode == 0 and here.stdout.startswith("data OK: ")
    elif command[0] == "search":
        assert here.returncode == 0 and f"would update {ROOT / 'data' / 'screening.csv'}" in here.stdout
    elif command[0] == "add-study":
        assert here.returncode == 1 and "nosuchkey1900" in here.stderr
    else:
        assert here.returncode == 1 and "nosuchstudy" in here.stderr


def test_commands_outside_any_review_say_to_run_from_the_root(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    for command in (["validate"], ["add-study", "x2020"], ["search", "--dry-run"], ["ipd-template"]):
        done = subprocess.run([sys.executable, "-m", "analysis", *command], cwd=tmp_path,
                              capture_output=True, text=True, check=False, timeout=300)
        assert done.returncode in (1, 2), command
        marker = "data/search_strategy.yaml" if command[0] == "search" else "data/datapackage.yaml"
        assert done.stderr.startswith(f"{command[0]}: no {marker} in {tmp_path.resolve()} or in any "
                                      "folder above it: run the command from the repository root"), done.stderr
        assert ":0:" not in done.stderr
