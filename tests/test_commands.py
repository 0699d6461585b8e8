"""The commands the documentation gives a newcomer: what they print and what they run."""

from __future__ import annotations

import re
import subprocess
import sys
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


def test_make_test_runs_on_every_core_and_keeps_shared_builds_on_one_worker(tmp_path: Path) -> None:
    make = (ROOT / "Makefile").read_text(encoding="utf-8")
    parallel = make.split("PYTEST_PARALLEL := ", 1)[1].split("\n", 1)[0]
    recipe = make.split("\ntest: ", 1)[1].split("\n\n", 1)[0]
    assert "$(BIN)/python -m pytest $(PYTEST_PARALLEL)" in recipe
    fast = make.split("\ntest-fast: ", 1)[1].split("\n\n", 1)[0]
    assert '$(PYTEST_PARALLEL) -m "not build and not browser and not slow"' in fast
    # Run the Makefile's distribution on two workers: every test of a module that shares a
    # module-scoped fixture must run on one worker (the fixture is made once), and both workers work.
    for name in ("a", "b", "c"):
        (tmp_path / f"test_{name}.py").write_text(
            "import os\nimport time\n\nimport pytest\n\n\n"
            "@pytest.fixture(scope='module')\ndef shared():\n    return os.environ['PYTEST_XDIST_WORKER']\n\n\n"
            "@pytest.mark.parametrize('i', range(6))\ndef test_one(shared, i):\n    time.sleep(0.05)\n"
            "    assert os.environ['PYTEST_XDIST_WORKER'] == shared\n"
            f"    with open({str(tmp_path / 'ran.txt')!r}, 'a') as f:\n"
            f"        f.write('{name} ' + shared + '\\n')\n", encoding="utf-8")
    args = parallel.replace("$(PYTEST_WORKERS)", "2").split()
    done = subprocess.run([sys.executable, "-m", "pytest", *args, "-q", "-p", "no:cacheprovider",
                           "-p", "no:randomly", "--rootdir", str(tmp_path), str(tmp_path)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    ran = [line.split() for line in (tmp_path / "ran.txt").read_text(encoding="utf-8").splitlines()]
    assert len(ran) == 18
    by_module = {m: {w for n, w in ran if n == m} for m in "abc"}
    assert all(len(workers) == 1 for workers in by_module.values()), by_module
    assert len({w for _, w in ran}) == 2, ran  # the modules are still spread over both workers