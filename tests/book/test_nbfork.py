"""analysis.book.nbfork: notebooks executed in forked workers give the outputs a Jupyter kernel gives.

The reference is the real thing: nbclient driving an ipykernel on the same SYNTHETIC notebook.
Outputs are compared after masking what differs between any two kernel runs (object addresses,
the kernel's process id in warning file names).
"""

from __future__ import annotations

import ast
import json
import os
import re
from pathlib import Path

import nbformat
import pytest

from analysis.book import nbfork

pytestmark = pytest.mark.skipif(not nbfork.fork_available(), reason="needs os.fork")

#: Every kind of output a chapter produces, plus the corner cases of the protocol.
CELLS = [
    "import sys\nprint('to stdout')\nprint('to stderr', file=sys.stderr)\nprint('more stdout')",
    ("from IPython.display import HTML, Markdown, display\ndisplay(HTML('<b>bold</b>'))\n"
     "display(Markdown('*emphasis*'))\n40 + 2"),
    "from myst_nb import glue\nglue('number', 3.14159, display=False)\nglue('text', 'shown')",
    "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([1, 2, 3])",
    ("import pandas as pd\nprint(pd.DataFrame({c: range(3) for c in 'abcdefghijklmnopqrstu'}))\n"
     "pd.DataFrame({'a': [1, 2], 'b': ['x', 'y']})"),
    "",
    "import warnings\nwarnings.warn('careful')",
    "x = 5\nx;",
    "from IPython.display import clear_output\nprint('gone')\nclear_output()\nprint('kept')",
    "h = display(Markdown('first'), display_id=True)\nh.update(Markdown('second'))",
    "import os\nos.getcwd().endswith('work')",
]


def _notebook(cells: list[str]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def _masked(outputs: list) -> str:
    text = json.dumps(outputs, sort_keys=True)
    text = re.sub(r"0x[0-9a-f]+", "0x?", text)
    return re.sub(r"ipykernel_\d+", "ipykernel_?", text)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("work", numbered=False)


@pytest.fixture(scope="module")
def by_kernel(workdir: Path) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    nb = _notebook(CELLS)
    return NotebookClient(nb, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}).execute()


@pytest.fixture(scope="module")
def by_fork(workdir: Path) -> nbformat.NotebookNode:
    [outcome] = nbfork.run_forked([nbfork.Job("nb", _notebook(CELLS), workdir)],
                                  modules=["pandas", "matplotlib.pyplot"])
    assert outcome.ok, outcome.error
    return outcome.notebook


@pytest.mark.parametrize("index", range(len(CELLS)))
def test_cell_outputs_equal_the_kernel(index: int, by_kernel: nbformat.NotebookNode,
                                       by_fork: nbformat.NotebookNode) -> None:
    kernel, fork = by_kernel.cells[index], by_fork.cells[index]
    assert fork.get("execution_count") == kernel.get("execution_count")
    assert _masked(fork.get("outputs", [])) == _masked(kernel.get("outputs", []))


def test_the_outputs_are_not_trivially_empty(by_fork: nbformat.NotebookNode) -> None:
    kinds = {o["output_type"] for c in by_fork.cells for o in c.get("outputs", [])}
    assert kinds == {"stream", "display_data", "execute_result"}
    figure = by_fork.cells[3].outputs[-1]
    assert figure["data"]["image/png"].startswith("iVBOR")  # a PNG, base64 as ipykernel sends it
    assert figure["metadata"] == {"needs_background": "light"}


def test_language_info_is_the_kernels(by_kernel: nbformat.NotebookNode,
                                       by_fork: nbformat.NotebookNode) -> None:
    assert by_fork.metadata["language_info"] == by_kernel.metadata["language_info"]


def test_the_input_notebook_is_not_modified(workdir: Path) -> None:
    nb = _notebook(["print(1)"])
    before = json.dumps(nb, sort_keys=True)
    nbfork.run_forked([nbfork.Job("nb", nb, workdir)])
    assert json.dumps(nb, sort_keys=True) == before


def test_a_failing_cell_is_reported_not_returned(workdir: Path) -> None:
    [outcome] = nbfork.run_forked([nbfork.Job("bad", _notebook(["1", "1 / 0", "2"]), workdir)])
    assert not outcome.ok
    assert outcome.notebook is None
    assert "cell 1" in outcome.error and "ZeroDivisionError" in outcome.error


def test_a_syntax_error_is_reported(workdir: Path) -> None:
    [outcome] = nbfork.run_forked([nbfork.Job("bad", _notebook(["def f(:"]), workdir)])
    assert not outcome.ok and "SyntaxError" in outcome.error


def test_a_job_over_the_timeout_is_killed(workdir: Path) -> None:
    jobs = [nbfork.Job("slow", _notebook(["import time\ntime.sleep(30)"]), workdir),
            nbfork.Job("quick", _notebook(["1 + 1"]), workdir)]
    slow, quick = nbfork.run_forked(jobs, workers=2, timeout=1.5)
    assert not slow.ok and "timed out after 1.5 s" in slow.error
    assert quick.ok


def test_skip_tag_and_empty_cells_are_not_executed(workdir: Path) -> None:
    nb = _notebook(["1", "", "raise SystemExit('must not run')", "2"])
    nb.cells[2].metadata["tags"] = [nbfork.SKIP_TAG]
    [outcome] = nbfork.run_forked([nbfork.Job("nb", nb, workdir)])
    assert outcome.ok, outcome.error
    counts = [c.get("execution_count") for c in outcome.notebook.cells]
    assert counts == [1, None, None, 2]


def test_each_notebook_starts_from_a_clean_process(workdir: Path) -> None:
    first = _notebook(["import analysis\nanalysis.LEAK = 1\nleaked = 1"])
    second = _notebook(["import analysis\nhasattr(analysis, 'LEAK'), 'leaked' in globals()"])
    _, outcome = nbfork.run_forked([nbfork.Job("a", first, workdir), nbfork.Job("b", second, workdir)],
                                   workers=1, modules=["analysis"])
    assert outcome.ok, outcome.error
    assert outcome.notebook.cells[0].outputs[0]["data"]["text/plain"] == "(False, False)"


def test_outcomes_come_back_in_job_order_whatever_the_workers(workdir: Path) -> None:
    jobs = [nbfork.Job(f"j{i}", _notebook([f"import time\ntime.sleep({0.3 * (i % 2)})\n{i}"]), workdir)
            for i in range(5)]
    for workers in (1, 2, 8):
        outcomes = nbfork.run_forked(jobs, workers=workers)
        assert [o.key for o in outcomes] == [j.key for j in jobs]
        assert [o.notebook.cells[0].outputs[0]["data"]["text/plain"] for o in outcomes] == \
            [str(i) for i in range(5)]


def test_job_keys_must_be_unique(workdir: Path) -> None:
    job = nbfork.Job("same", _notebook(["1"]), workdir)
    with pytest.raises(ValueError, match="unique"):
        nbfork.run_forked([job, job])


def test_output_written_to_file_descriptor_1_does_not_corrupt_results(workdir: Path) -> None:
    [outcome] = nbfork.run_forked([nbfork.Job("nb", _notebook(["import os\nos.system('echo noise')\n7"]),
                                              workdir)])
    assert outcome.ok, outcome.error
    assert outcome.notebook.cells[0].outputs[-1]["data"]["text/plain"] == "7"


def test_a_module_that_cannot_be_preloaded_is_not_fatal(workdir: Path) -> None:
    [outcome] = nbfork.run_forked([nbfork.Job("nb", _notebook(["3"]), workdir)],
                                  modules=["no_such_module_anywhere"])
    assert outcome.ok, outcome.error


def test_the_notebook_runs_in_its_folder_with_the_folder_on_sys_path(tmp_path: Path) -> None:
    (tmp_path / "helper_mod_nbfork.py").write_text("VALUE = 'found'\n", encoding="utf-8")
    nb = _notebook(["import os, helper_mod_nbfork\nos.getcwd(), helper_mod_nbfork.VALUE"])
    [outcome] = nbfork.run_forked([nbfork.Job("nb", nb, tmp_path)])
    assert outcome.ok, outcome.error
    # read back as a value: IPython wraps a long repr over lines (a deep temporary folder, as under xdist)
    shown = outcome.notebook.cells[0].outputs[0]["data"]["text/plain"]
    assert ast.literal_eval(shown) == (str(tmp_path), "found")


def test_a_zygote_that_dies_fails_every_job(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    zygote = nbfork.Zygote.start([])
    zygote._process.kill()
    zygote._process.wait()
    outcomes = zygote.run([nbfork.Job("a", _notebook(["1"]), workdir)])
    zygote.close()
    assert not outcomes[0].ok and outcomes[0].error


def test_the_caller_is_left_untouched(workdir: Path) -> None:
    backend, cwd = os.environ.get("MPLBACKEND"), os.getcwd()
    nbfork.run_forked([nbfork.Job("nb", _notebook(["import os\nos.chdir('/')"]), workdir)])
    assert os.environ.get("MPLBACKEND") == backend and os.getcwd() == cwd


def test_figures_do_not_depend_on_what_was_drawn_before(workdir: Path) -> None:
    """The inline backend changes rcParams when it loads; analysis.book.plots loads it before styling.

    Drawn first or after another figure, in a kernel-like worker, a plot gives the same bytes.
    """
    draw = ("from analysis import metaprop\nfrom analysis.book.plots import forest_plot, save_figure\n"
            "save_figure(forest_plot(metaprop([3, 5, 7], [10, 12, 9])), STEM, formats=['svg'])")
    first = _notebook([draw.replace("STEM", repr(str(workdir / "alone")))])
    second = _notebook([draw.replace("STEM", repr(str(workdir / "before"))),
                        draw.replace("STEM", repr(str(workdir / "after")))])
    outcomes = nbfork.run_forked([nbfork.Job("a", first, workdir), nbfork.Job("b", second, workdir)],
                                 modules=["pandas"])
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    alone = (workdir / "alone.svg").read_bytes()
    assert alone == (workdir / "after.svg").read_bytes() == (workdir / "before.svg").read_bytes()


def test_prewarm_calls_run_once_before_forking_and_forks_inherit_their_work(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "warm_mod_nbfork.py").write_text(
        "import builtins\n"
        "def warm(argument):\n"
        "    print('prewarm output is not a cell output')\n"
        "    builtins._nbfork_warmed = getattr(builtins, '_nbfork_warmed', ()) + (argument,)\n"
        "def broken(argument):\n"
        "    raise RuntimeError('a failing prewarm is not fatal')\n", encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    nb = _notebook(["import builtins\nbuiltins._nbfork_warmed"])
    zygote = nbfork.Zygote.start([], [("warm_mod_nbfork:warm", "project"),
                                      ("warm_mod_nbfork:broken", "x"), ("no_such_mod:f", "y")])
    try:
        outcomes = zygote.run([nbfork.Job(k, nb, tmp_path) for k in ("a", "b")], workers=2)
    finally:
        zygote.close()
    for outcome in outcomes:
        assert outcome.ok, outcome.error
        assert [o.get("name") for o in outcome.notebook.cells[0].outputs] == [None]  # no stream
        assert outcome.notebook.cells[0].outputs[0]["data"]["text/plain"] == "('project',)"


def test_prewarm_reports_the_calls_that_failed() -> None:
    assert nbfork.prewarm([("json:dumps", "x")]) == []
    assert nbfork.prewarm([("json:loads", "not json"), ("operator:truth", "")]) == ["json:loads", "operator:truth"]


#: A child process that adopts the zygote its parent handed over and runs one notebook in it.
_ADOPTER = (
    "import json, os, sys, nbformat\n"
    "from pathlib import Path\n"
    "from analysis.book import nbfork\n"
    "zygote = nbfork.Zygote.adopt(os.environ[nbfork.HANDOFF_ENV])\n"
    "if sys.argv[1] == 'run':\n"
    "    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(\"import os\\nos.environ.get('NBFORK_T')\")])\n"
    "    [o] = zygote.run([nbfork.Job('a', nb, Path(sys.argv[2]))])\n"
    "    print(json.dumps({'header': zygote.header, 'ok': o.ok, 'shown': o.notebook.cells[0].outputs[0]['data']}))\n"
    "else:\n"
    "    zygote.close()\n"
)


def _hand_to_child(zygote: nbfork.Zygote, *args: str) -> str:
    import subprocess
    import sys

    token, fds = zygote.handoff()
    env = {**os.environ, nbfork.HANDOFF_ENV: token}
    try:
        child = subprocess.Popen([sys.executable, "-c", _ADOPTER, *args], env=env, pass_fds=fds,
                                 stdout=subprocess.PIPE, text=True)
    finally:
        zygote.release()
    out, _ = child.communicate(timeout=120)
    assert child.returncode == 0
    return out


def test_a_zygote_started_by_one_process_runs_the_jobs_of_the_child_it_was_handed_to(workdir: Path) -> None:
    """A build driver starts the preparation; the documentation tool it launches adopts it (same outputs,
    the header says what was prepared, the variables of ``env`` are set before anything runs)."""
    zygote = nbfork.Zygote.start(["json"], [], {"NBFORK_T": "set", "NBFORK_GONE": None})
    try:
        result = json.loads(_hand_to_child(zygote, "run", str(workdir)))
    finally:
        zygote.close()
    assert result["ok"]
    assert result["shown"]["text/plain"] == "'set'"
    assert result["header"] == {"modules": ["json"], "calls": [], "env": {"NBFORK_GONE": None, "NBFORK_T": "set"}}


def test_a_handed_over_zygote_the_child_does_not_use_is_stopped() -> None:
    zygote = nbfork.Zygote.start(["json"])
    try:
        _hand_to_child(zygote, "close")
        assert zygote._process.wait(timeout=30) is not None  # stopped by the child, or ended at end of input
    finally:
        zygote.close()


@pytest.mark.parametrize("token", ["", "not json", "{}", '{"pid": 1, "stdin": "x", "stdout": 5, "header": {}}',
                                   '{"pid": 1, "stdin": 987654, "stdout": 987655, "header": {}}'])
def test_a_token_that_is_not_a_handed_over_zygote_is_refused(token: str) -> None:
    assert nbfork.Zygote.adopt(token) is None


def test_the_header_says_what_is_prepared() -> None:
    assert nbfork.Zygote.make_header(("a", "b"), [("m:f", "root")], {"Z": "1", "A": None}) == {
        "modules": ["a", "b"], "calls": [["m:f", "root"]], "env": {"A": None, "Z": "1"}}
