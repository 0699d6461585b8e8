"""The package as a reuser installs it: the engine alone, then with its extras.

A reuser who runs ``pip install .`` gets numpy, scipy and pandas only. These tests run Python in a
subprocess in which the libraries of the optional extras cannot be imported (a finder on
``sys.meta_path`` refuses them, as a fresh virtual environment would), and check that

- ``from analysis import metaprop`` and every name of ``analysis.__all__`` work;
- every module of the package either imports or fails with an ImportError naming its extra and
  the install command, never a bare ``ModuleNotFoundError``;
- the command line says the same in one line, without a traceback.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import analysis
from analysis.book import PLOTS_ONLY
from analysis.evidence.extras import EXTRAS
from tests.packageutil import package_modules

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

#: Top-level import names of everything the extras bring (and what those bring in turn). Not
#: sphinx: scipy asks ``"sphinx" in sys.modules`` to decide whether to import it, so a None
#: entry there breaks scipy, not us; no module of the package outside the book imports sphinx.
BLOCKED = sorted({*EXTRAS["book"], "traitlets", "jupyter_client", "pybtex"} - {"sphinx"})

# ``None`` in sys.modules is how Python marks a module as not importable: ``import`` raises
# ModuleNotFoundError and ``importlib.util.find_spec`` returns None, as in an environment without it.
BLOCKER = f"""
import sys
for name in {BLOCKED!r}:
    sys.modules[name] = None
"""


def _run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", BLOCKER + code, *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def without_extras() -> dict[str, str | None]:
    """module name -> None when it imports without the extras, else the ImportError message."""
    code = """
import importlib, json
out = {}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
        out[name] = None
    except ImportError as exc:
        out[name] = f"{type(exc).__name__}: {exc}"
print(json.dumps(out))
"""
    proc = _run(code, *package_modules())
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_the_blocker_really_blocks() -> None:
    proc = _run("import matplotlib")
    assert proc.returncode != 0 and "ModuleNotFoundError" in proc.stderr and "matplotlib" in proc.stderr


def test_the_engine_and_the_public_api_work_without_extras() -> None:
    code = """
import analysis
from analysis import metaprop
names = [getattr(analysis, n) for n in analysis.__all__]
res = metaprop([16, 10, 4, 43], [17, 12, 8, 58], method="REML")
print(len(names), round(res.estimate, 6))
"""
    proc = _run(code)
    assert proc.returncode == 0, proc.stderr
    count, estimate = proc.stdout.split()
    assert int(count) == len(analysis.__all__)
    assert float(estimate) == pytest.approx(analysis.metaprop([16, 10, 4, 43], [17, 12, 8, 58]).estimate)


def test_every_module_imports_or_names_its_extra(without_extras: dict[str, str | None]) -> None:
    assert set(without_extras) == set(package_modules())
    for name, error in without_extras.items():
        if error is None:
            continue
        assert error.startswith("MissingExtraError: "), f"{name}: {error}"
        extra = "evidence"
        if name.startswith("analysis.book."):
            extra = "plots" if name.split(".")[2] in PLOTS_ONLY else "book"
        assert f"'{extra}' dependencies" in error, f"{name}: {error}"
        assert f'pip install ".[{extra}]"' in error, f"{name}: {error}"


def test_which_rooms_need_an_extra_to_import(without_extras: dict[str, str | None]) -> None:
    failing = {n for n, e in without_extras.items() if e is not None}
    # the package analysis.book itself imports (it installs the check of each module's extra)
    assert failing == {n for n in without_extras if n.startswith("analysis.book.")}
    assert all(without_extras[n] is None for n in without_extras if n.startswith("analysis.engine"))


def test_the_command_line_names_the_missing_extra_without_a_traceback() -> None:
    proc = _run("import sys; from analysis.cli import main; sys.exit(main(sys.argv[1:]))",
                "validate", str(ROOT / "data"))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1
    assert "'evidence' dependencies" in proc.stderr and 'pip install ".[evidence]"' in proc.stderr


def _distribution(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;@]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_extras_named_in_errors_match_pyproject() -> None:
    extras = PYPROJECT["project"]["optional-dependencies"]
    name = PYPROJECT["project"]["name"]
    declared = {key: {_distribution(r) for r in reqs} for key, reqs in extras.items()}
    named = {key: {v.split()[0].lower() for v in EXTRAS[key].values()} for key in EXTRAS}
    assert declared["evidence"] == named["evidence"]
    assert f"{name}[evidence]" in extras["book"]  # book includes evidence
    assert declared["book"] - {name} <= named["book"]
    assert named["evidence"] <= named["book"]
    assert declared["search"] - {name} == named["search"] <= named["book"]
    assert f"{name}[search]" in extras["book"]  # book includes the search client's libraries
    assert declared["plots"] == named["plots"] <= named["book"]
    assert f"{name}[plots]" in extras["book"]  # book includes the plots


#: Libraries of the book extra beyond the plots (fontTools stays: matplotlib needs it).
BOOK_ONLY = sorted({*EXTRAS["book"], "traitlets", "jupyter_client", "pybtex"}
                   - {"sphinx", "fontTools", *EXTRAS["plots"]})


def test_a_forest_plot_needs_only_the_plots_extra(tmp_path: Path) -> None:
    """With matplotlib and forestplot but without the Jupyter Book stack, the evidence or the search
    libraries, a reuser draws and saves a forest plot; the chapter kit names the extra it needs."""
    code = f"""
import sys
for name in {BOOK_ONLY!r}:
    sys.modules[name] = None
from analysis import metaprop
from analysis.book.plots import forest_plot, forest_plot_alt_text, save_figure
res = metaprop([16, 10, 4, 43], [17, 12, 8, 58], labels=["A", "B", "C", "D"])
fig = forest_plot(res, xlabel="Proportion")
save_figure(fig, {str(tmp_path / "forest")!r}, formats=("svg",))
print(forest_plot_alt_text(res)[:40])
try:
    import analysis.book.bookkit
except ImportError as exc:
    print(type(exc).__name__ + ": " + str(exc))
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "forest.svg").read_bytes().startswith(b"<?xml")
    from analysis.book.plots import forest_plot_alt_text

    first, second = done.stdout.splitlines()[:2]
    res = analysis.metaprop([16, 10, 4, 43], [17, 12, 8, 58], labels=["A", "B", "C", "D"])
    assert first == forest_plot_alt_text(res)[:40]
    assert second.startswith("MissingExtraError: analysis.book.bookkit needs the optional 'book' dependencies")
    assert 'pip install ".[book]"' in second


def test_distribution_name_and_import_name() -> None:
    assert PYPROJECT["project"]["name"] == analysis.DISTRIBUTION == "scb-review-analysis"
    assert analysis.__version__ == PYPROJECT["project"]["version"]
