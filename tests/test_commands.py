"""The commands the documentation gives a newcomer: what they print and what they run."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = ("Makefile", "README.md", "CONTRIBUTING.md", "RELEASING.md", "tools/site.py")


def test_every_suggested_local_server_listens_on_this_computer_only() -> None:
    """`python -m http.server` without --bind serves the site on every network interface."""
    found = []
    for name in DOCUMENTS:
        for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
            for command in re.findall(r"-m http\.server[^`\n]*", line):
                found.append((name, command))
    assert len(found) >= 5
    unbound = [(name, c) for name, c in found if not re.search(r"(?:-b|--bind) 127\.0\.0\.1\b", c)]
    assert unbound == []


def test_the_make_book_hint_binds_the_loopback_address() -> None:
    make = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "-m http.server -b 127.0.0.1 -d _build/html  then visit http://127.0.0.1:8000" in make


def test_ci_runs_the_readme_s_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## The two commands", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make book", "make test"]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert "make test" in [line.strip() for line in ci]


def test_make_test_runs_on_every_core_and_keeps_shared_builds_on_one_worker() -> None:
    make = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "PYTEST_PARALLEL := -n $(PYTEST_WORKERS) --dist loadgroup" in make
    recipe = make.split("\ntest: ", 1)[1].split("\n\n", 1)[0]
    assert "$(BIN)/python -m pytest $(PYTEST_PARALLEL)" in recipe
    fast = make.split("\ntest-fast: ", 1)[1].split("\n\n", 1)[0]
    assert '$(PYTEST_PARALLEL) -m "not build and not browser and not slow"' in fast
