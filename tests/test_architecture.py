"""The rooms' contracts (pyproject.toml, checked by import-linter) hold, and can fail.

``make test`` and ``make lint`` run ``lint-imports`` itself; these tests make sure the contracts
are not vacuous: a copy of the package with one planted violation of each kind must be refused.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT.exists(), reason="import-linter is not installed (make setup)")


def _lint(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT), "--no-cache"], cwd=project, capture_output=True, text=True,
                          timeout=300, check=False)


def _copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "analysis", tmp_path / "analysis",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _plant(project: Path, module: str, line: str) -> None:
    path = project / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")


def test_the_package_keeps_its_contracts(tmp_path: Path) -> None:
    proc = _lint(_copy(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Contracts: 3 kept, 0 broken." in proc.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("analysis/engine/rma.py", "from analysis.evidence import readers", "never upwards"),
        ("analysis/evidence/grade.py", "import analysis.living.snapshot", "never upwards"),
        ("analysis/living/changes.py", "from analysis.book import report", "never upwards"),
        ("analysis/engine/tau2.py", "import matplotlib", "The engine is pure"),
        ("analysis/engine/effects.py", "import yaml", "The engine is pure"),
        ("analysis/engine/intervals.py", "from pathlib import Path", "The engine is pure"),
        ("analysis/living/scaffold.py", "from analysis.cli import command", "The command line sits on top"),
    ],
)
def test_a_planted_violation_is_refused(tmp_path: Path, module: str, line: str, broken: str) -> None:
    project = _copy(tmp_path)
    _plant(project, module, line)
    proc = _lint(project)
    assert proc.returncode == 1
    assert re.search(r"Contracts: \d+ kept, [1-9]\d* broken\.", proc.stdout)
    dotted = module.removesuffix(".py").replace("/", ".")
    assert dotted in proc.stdout
    heading = proc.stdout.split("Broken contracts", 1)[1]
    assert broken in " ".join(heading.split())
