"""Sphinx extension: re-execute a chapter whenever one of its inputs changes.

jupyter-cache (Jupyter Book 1's executor cache) keys a notebook on its code only, so a chapter
that reads ``data/studies.csv`` is served with stale outputs after the CSV changes. A living
review must never show numbers from old data. This extension closes that gap:

* each chapter declares its inputs in its front matter, as glob patterns relative to the
  project root::

      depends_on: [data/studies.csv, data/outcomes.csv]

  (chapters that declare nothing depend on :data:`DEFAULT_DEPENDS_ON`);
* when Sphinx reads a chapter, the extension stores a SHA-256 digest of the names and
  contents of every file those patterns match;
* on every later build it recomputes the digests and marks a chapter outdated when its digest
  changed (a file edited, added or removed), so Sphinx re-reads it and it is executed again.
  Unchanged chapters are neither re-read nor re-executed, which keeps a no-change rebuild fast.

Content hashes, not modification times, are compared, so ``git checkout`` or ``touch`` alone do
not trigger work.

Fast execution (with ``execute_notebooks: cache``): before Sphinx reads the chapters it has to
read, the extension executes all of them at once in forked workers (:mod:`analysis.book.nbfork`, one
per core, no kernel start-up; the process they are forked from is started, and imports, while
Sphinx loads its environment) and hands the executed notebooks to myst-nb through its
jupyter-cache. The cache is emptied first on every build, so it only ever holds notebooks executed
by this build from the current inputs: it is a hand-over, never a source of stale outputs. A
chapter the fast path cannot run (a failing cell, a timeout, a non-Python kernel, notebook-level
execution settings) is simply not handed over, and myst-nb executes it in an ordinary Jupyter
kernel, which reports errors the usual way. Configuration (``sphinx.config`` in ``_config.yml``):

* ``live_inputs_fork`` (default True): use the fast path where ``os.fork`` exists;
* ``live_inputs_workers`` (default 0, meaning one per CPU core): notebooks executed at a time;
* ``live_inputs_preload`` (default empty): modules the worker process imports before forking, so
  that no chapter pays for importing them;
* ``live_inputs_prewarm`` (default empty): functions (``"module:function"``) the worker process
  then calls with the project folder, so that work every chapter would repeat (loading and
  checking the data) is done once per build and inherited by every fork
  (:func:`analysis.book.nbfork.prewarm`);
* ``live_inputs_overlap`` (default True): Sphinx reads the pages that are not notebooks while the
  chapters execute (see :func:`_pre_execute`);
* ``live_inputs_skip_unchanged`` (default True): a chapter whose execution gave exactly what it
  gave last time is not read nor written again (:func:`_skip_unchanged`);
* ``live_inputs_gc`` (default True): collect cyclic garbage less often during the build
  (:func:`_quiet_gc`);
* ``live_inputs_caches`` (default True): False turns off every cache of the build (figures,
  shared results, prewarmed state, icon-font cuts, WebP copies), so that a build computes
  everything itself; the test suite compares such a build with one made from the caches.

With ``execute_notebooks: force`` the fast path is off and every chapter runs in a kernel.
Either way the extension names a figure cache for :mod:`analysis.book.figcache` in the build folder
(``_build/.figure_cache``, trimmed to the most recently used figures after each build) and a cache
of results shared by the chapters for :mod:`analysis.living.buildcache` (``_build/.build_cache``).

Loading this extension also loads :mod:`analysis.book.mathml` (formulas as MathML, no script),
:mod:`analysis.book.pagemeta` (meta descriptions, Open Graph tags) and
:mod:`analysis.book.themetrim` (the theme's Font Awesome script left out, scripts deferred, on request),
:mod:`analysis.book.iconfonts` (icon fonts cut to the icons used, on request),
:mod:`analysis.book.imagehints` (image sizes, lazy loading and WebP copies, on request) and
:mod:`analysis.book.steadypages` (a page written again is the page a build from nothing writes).

Nothing here knows about any particular review; another Jupyter Book can add
``analysis.book.sphinxext`` to ``sphinx.extra_extensions`` and use it as is.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

#: Inputs assumed for a chapter whose front matter declares no ``depends_on``.
DEFAULT_DEPENDS_ON: tuple[str, ...] = (
    "data/**/*",
    "references.bib",
    "VERSION",
    "analysis/**/*.py",
)

#: Files never hashed even when a pattern matches them (caches, editor droppings).
_IGNORED_PARTS = frozenset({"__pycache__", ".ipynb_checkpoints"})


def front_matter(text: str) -> dict[str, Any]:
    """Return the YAML front matter of a MyST Markdown file (empty dict when there is none)."""
    if not text.startswith("---"):
        return {}
    end = text.find("\n---", 3)
    if end < 0:
        return {}
    loaded = yaml.safe_load(text[3:end])
    return loaded if isinstance(loaded, dict) else {}


def declared_inputs(source: Path) -> tuple[str, ...] | None:
    """Glob patterns a chapter depends on, read from its ``depends_on`` front-matter key.

    Returns None for a page that is not an executable notebook (no ``kernelspec``): it runs no
    code, so its output cannot go stale (Sphinx itself tracks files it includes).
    """
    try:
        meta = front_matter(source.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return DEFAULT_DEPENDS_ON
    if source.suffix == ".md" and "kernelspec" not in meta:
        return None
    value = meta.get("depends_on")
    if value is None:
        return DEFAULT_DEPENDS_ON
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def matched_files(root: Path, patterns: Iterable[str]) -> list[Path]:
    """Sorted, de-duplicated files under ``root`` matched by ``patterns``."""
    found: set[Path] = set()
    for pattern in patterns:
        for path in root.glob(pattern):
            if path.is_file() and not _IGNORED_PARTS.intersection(path.parts):
                found.add(path)
    return sorted(found)


def inputs_digest(root: Path, patterns: Sequence[str]) -> str:
    """SHA-256 over the relative names and contents of the files ``patterns`` match."""
    digest = hashlib.sha256()
    for path in matched_files(root, patterns):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def _root(app: Any) -> Path:
    return Path(app.srcdir)


def _digest_for(app: Any, docname: str) -> str | None:
    source = Path(app.env.doc2path(docname))
    if source.suffix not in {".md", ".ipynb"}:
        return None
    patterns = declared_inputs(source)
    return None if patterns is None else inputs_digest(_root(app), patterns)


def _record(app: Any, docname: str, source: list[str]) -> None:
    """``source-read``: remember the digest of the inputs this chapter was executed with."""
    digest = _digest_for(app, docname)
    if digest is not None:
        app.env.live_inputs_digest[docname] = digest


def _record_outputs(app: Any, env: Any) -> list[str]:
    """``env-updated``: remember what each chapter the fast path executed and Sphinx read gave
    (the chapters not read again were taken out of ``app.live_inputs_executed`` by :func:`_skip_unchanged`).

    The :func:`output_digest` of its notebook and of the files its page refers to, now that Sphinx
    has recorded them (:func:`referenced_files`); the next build compares with it
    (:func:`_skip_unchanged`). Returns no page to read again.
    """
    for docname, notebook in getattr(app, "live_inputs_executed", {}).items():
        env.live_inputs_outputs[docname] = output_digest(notebook, referenced_files(env, docname))
    return []


def _outdated(app: Any, env: Any, added: set, changed: set, removed: set) -> list[str]:
    """``env-get-outdated``: chapters whose declared inputs differ from their last read."""
    stale = []
    for docname, old in list(env.live_inputs_digest.items()):
        if docname in changed or docname in removed or docname not in env.all_docs:
            continue
        if _digest_for(app, docname) != old:
            stale.append(docname)
    if stale:
        from sphinx.util import logging

        logging.getLogger(__name__).info(
            "[live inputs] re-executing %d chapter(s) whose data changed: %s",
            len(stale),
            ", ".join(sorted(stale)),
        )
    return stale


def _init_env(app: Any) -> None:
    for name in ("live_inputs_digest", "live_inputs_outputs"):
        if not hasattr(app.env, name):
            setattr(app.env, name, {})


def _purge(app: Any, env: Any, docname: str) -> None:
    env.live_inputs_digest.pop(docname, None)
    env.live_inputs_outputs.pop(docname, None)


def _merge(app: Any, env: Any, docnames: set, other: Any) -> None:
    for name in ("live_inputs_digest", "live_inputs_outputs"):
        mine, theirs = getattr(env, name), getattr(other, name, {})
        for docname in docnames:
            if docname in theirs:
                mine[docname] = theirs[docname]


#: Folder of the figure cache (:mod:`analysis.book.figcache`), beside the builder's output folder.
FIGURE_CACHE = ".figure_cache"
#: Figures kept in that cache; the least recently used beyond this are removed after a build.
FIGURE_CACHE_SIZE = 500

#: Folder of the per-build cache of results (:mod:`analysis.living.buildcache`), beside the output folder.
BUILD_CACHE = ".build_cache"
#: Results kept in that cache; the least recently used beyond this are removed after a build.
BUILD_CACHE_SIZE = 200

#: Kernel names the fast path executes (others go to their own Jupyter kernel).
PYTHON_KERNELS = frozenset({"python3", "python"})


def _logger() -> Any:
    from sphinx.util import logging

    return logging.getLogger(__name__)


def _fast_path_on(app: Any) -> bool:
    config = getattr(app.env, "mystnb_config", None)
    return config is not None and config.execution_mode == "cache"


def _fork_job(app: Any, env: Any, docname: str) -> Any | None:
    """The :class:`analysis.book.nbfork.Job` for one chapter, or None when a kernel must run it."""
    from myst_nb.core.read import create_nb_reader

    from analysis.book.nbfork import Job

    nb_config = env.mystnb_config
    path = Path(env.doc2path(docname))
    if path.suffix not in {".md", ".ipynb"} or nb_config.execution_in_temp:
        return None
    if any(PurePosixPath(path.as_posix()).match(p) for p in nb_config.execution_excludepatterns):
        return None
    text = path.read_text(encoding="utf-8")
    reader = create_nb_reader(str(path), env.myst_config, nb_config, text)
    if reader is None:
        return None
    notebook = reader.read(text)
    if nb_config.metadata_key in notebook.metadata:
        return None  # notebook-level execution settings: leave them to myst-nb
    kernelspec = notebook.metadata.get("kernelspec", {})
    name = kernelspec.get("name")
    for pattern, alias in (nb_config.kernel_rgx_aliases or {}).items():
        if name is not None and re.fullmatch(pattern, name):
            kernelspec["name"] = name = alias
            break
    if name not in PYTHON_KERNELS or kernelspec.get("language", "python") != "python":
        return None
    return Job(docname, notebook, path.parent)


def _workers(app: Any, jobs: int) -> int:
    wanted = int(app.config.live_inputs_workers) or os.cpu_count() or 1
    return max(1, min(wanted, jobs))


def _cache_env(outdir: Path, caches: bool) -> dict[str, str | None]:
    """The cache folders the chapters use (None: no cache), as environment variables."""
    from analysis.book import figcache
    from analysis.living import buildcache

    parent = Path(outdir).parent
    return {figcache.CACHE_ENV: str(parent / FIGURE_CACHE) if caches else None,
            buildcache.CACHE_ENV: str(parent / BUILD_CACHE) if caches else None}


def _zygote_header(srcdir: Path | str, outdir: Path | str, preload: Sequence[str], prewarm: Sequence[str],
                   caches: bool) -> dict[str, Any]:
    """What the worker process of a build is asked to import, set and call (:meth:`Zygote.make_header`)."""
    from analysis.book.nbfork import Zygote

    calls = [(spec, str(srcdir)) for spec in (prewarm if caches else [])]
    return Zygote.make_header(preload, calls, _cache_env(Path(outdir), caches))


def start_worker_process(root: Path, config_file: str = "_config.yml") -> Any | None:
    """Start the worker process of the next ``jupyter-book build`` of ``root`` now, before the build starts.

    For a build driver: it reads the book's configuration (``execute.execute_notebooks``, and the
    ``live_inputs_*`` settings under ``sphinx.config``) and, when the build will use the fast path,
    starts the :class:`analysis.book.nbfork.Zygote` the extension would start at ``config-inited``,
    a few seconds earlier. The driver hands it to the build (:meth:`Zygote.handoff`: the token in
    :data:`analysis.book.nbfork.HANDOFF_ENV`, its two pipes inherited), closes its own copies of the
    pipes (:meth:`Zygote.release`) and closes it after the build (:meth:`Zygote.close`). The
    extension uses it only when it was asked exactly what the extension would ask (imports,
    calls, cache folders); otherwise it closes it and starts its own, so a wrong guess here costs
    time, never correctness. Returns None when the build would not use a worker process.
    """
    from analysis.book import nbfork

    try:
        book = yaml.safe_load((root / config_file).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return None
    config = ((book.get("sphinx") or {}).get("config") or {}) if isinstance(book, dict) else {}
    mode = (book.get("execute") or {}).get("execute_notebooks")
    if mode != "cache" or not config.get("live_inputs_fork", True) or not nbfork.fork_available():
        return None
    caches = bool(config.get("live_inputs_caches", True))
    header = _zygote_header(root, root / "_build" / "html", config.get("live_inputs_preload") or [],
                            config.get("live_inputs_prewarm") or [], caches)
    try:
        return nbfork.Zygote.start(**header)
    except OSError:
        return None


def launch_with_worker_process(command: Sequence[str], root: Path, **popen: Any) -> tuple[Any, Any | None]:
    """Start the worker process of ``root``'s build (:func:`start_worker_process`), then ``command`` (a
    ``jupyter-book build``) with it handed over; return the command's process and the worker process.

    ``popen`` goes to :class:`subprocess.Popen` (not ``env`` nor ``pass_fds``, set here from the current
    environment). Once the command ended, the caller closes the worker process (``close()``, which
    stops it if the build did not use it); it is None when the build will not use one.
    """
    import subprocess

    from analysis.book.nbfork import HANDOFF_ENV

    worker = start_worker_process(root)
    env, fds = dict(os.environ), ()
    if worker is not None:
        token, fds = worker.handoff()
        env[HANDOFF_ENV] = token
    try:
        process = subprocess.Popen(list(command), env=env, pass_fds=fds, **popen)
    except BaseException:
        if worker is not None:
            worker.close()
        raise
    if worker is not None:
        worker.release()  # the build holds the pipes now
    return process, worker


def _adopted_zygote(header: dict[str, Any]) -> Any | None:
    """The worker process a build driver started and handed over, when it prepares what ``header`` asks."""
    from analysis.book import nbfork

    token = os.environ.pop(nbfork.HANDOFF_ENV, None)  # never passed on to processes this build starts
    zygote = nbfork.Zygote.adopt(token) if token else None
    if zygote is None or zygote.header == header:
        return zygote
    _logger().info("[live inputs] the worker process started before the build prepares other work; "
                   "starting another")
    zygote.close()
    return None


def _start_zygote(app: Any, config: Any) -> None:
    """``config-inited``: name the figure cache, and start preparing the worker process.

    The worker process prepares (imports) while Sphinx loads its environment; when the build driver
    already started one (:func:`start_worker_process`) and it prepares the same work, it is used.
    """
    from analysis.book import nbfork

    env = _cache_env(Path(app.outdir), bool(config.live_inputs_caches))
    for name, value in env.items():  # a build that computes everything itself has no cache
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    app.live_inputs_zygote = None
    wanted = config.nb_execution_mode == "cache" and config.live_inputs_fork and nbfork.fork_available()
    header = _zygote_header(app.srcdir, app.outdir, config.live_inputs_preload, config.live_inputs_prewarm,
                            bool(config.live_inputs_caches))
    adopted = _adopted_zygote(header)
    if not wanted:
        if adopted is not None:
            adopted.close()
        return
    if adopted is not None:
        _logger().info("[live inputs] using the worker process the build driver started")
        app.live_inputs_zygote = adopted
        return
    try:
        app.live_inputs_zygote = nbfork.Zygote.start(**header)
    except OSError as exc:  # no process could be started: every chapter goes to a kernel
        _logger().info("[live inputs] fast path unavailable (%s); chapters run in kernels", exc)


def _stop_zygote(app: Any, *args: Any) -> None:
    zygote = getattr(app, "live_inputs_zygote", None)
    if zygote is not None:
        zygote.close()
        app.live_inputs_zygote = None


def _finish(app: Any, exception: Exception | None) -> None:
    """``build-finished``: stop the worker process; trim the figure cache."""
    from analysis.book import figcache
    from analysis.living import buildcache

    run = getattr(app, "live_inputs_pending", None)
    if run is not None and run.thread is not None:
        app.live_inputs_pending = None
        _stop_zygote(app)
        run.thread.join()
    _stop_zygote(app)
    figcache.trim(Path(app.outdir).parent / FIGURE_CACHE, FIGURE_CACHE_SIZE)
    buildcache.trim(Path(app.outdir).parent / BUILD_CACHE, BUILD_CACHE_SIZE)


def _pre_execute(app: Any, env: Any, docnames: list[str]) -> None:
    """``env-before-read-docs``: execute the chapters about to be read, all at once, forked.

    The jupyter-cache is emptied first (it must only hold what this build executed), then every
    notebook Sphinx is about to read is executed and stored there; myst-nb finds them when it
    reads. Chapters not handed over are executed by myst-nb in a kernel.

    With ``live_inputs_overlap`` (the default) the chapters execute in the background while Sphinx
    reads the pages that are not notebooks (moved to the front of ``docnames``, which Sphinx reads
    in the order this event leaves them); the first notebook Sphinx reads waits for them
    (:func:`_await_chapters`, at ``source-read``).

    When only chapters are to be read (the usual rebuild after the data changed), they are executed
    first, and a chapter whose execution gave exactly what it gave last time, referring to files
    with the same contents, is not read again (:func:`_skip_unchanged`): its page cannot change,
    so Sphinx neither reads nor writes it.
    """
    if not _fast_path_on(app):
        _stop_zygote(app)
        return
    cache_path = Path(env.mystnb_config.execution_cache_path)
    shutil.rmtree(cache_path, ignore_errors=True)
    zygote = getattr(app, "live_inputs_zygote", None)
    jobs = [job for job in (_fork_job(app, env, d) for d in sorted(docnames)) if job is not None]
    jobs = longest_first(jobs, _past_seconds(app))
    if zygote is None or not jobs:
        _stop_zygote(app)
        return
    workers = _workers(app, len(jobs))
    _logger().info("[live inputs] executing %d chapter(s) in %d forked worker(s)", len(jobs), workers)
    run = _Execution(app, env, jobs, workers, cache_path)
    keys = {job.key for job in jobs}
    if not app.config.live_inputs_overlap or not [d for d in docnames if d not in keys]:
        run.wait()
        _skip_unchanged(app, env, docnames, run)
        return
    docnames[:] = [d for d in docnames if d not in keys] + [d for d in docnames if d in keys]
    run.start()
    app.live_inputs_pending = run


def output_digest(notebook: Any, files: Iterable[Path]) -> str:
    """SHA-256 of an executed notebook and of the names and contents of ``files`` (the images, downloads
    and included files its page refers to; a missing file counts as absent).

    The notebook counts as its JSON with keys sorted, without the cells' ``id``: a MyST notebook's
    cell ids are drawn at random each time it is read, and no page shows them.
    """
    cells = [{k: v for k, v in cell.items() if k != "id"} for cell in notebook.get("cells", [])]
    shown = {**notebook, "cells": cells}
    digest = hashlib.sha256(json.dumps(shown, sort_keys=True, default=str).encode())
    for path in sorted(set(files)):
        digest.update(b"\0" + str(path).encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"<absent>")
    return digest.hexdigest()


def referenced_files(env: Any, docname: str) -> list[Path]:
    """The files the page ``docname`` referred to when Sphinx last read it: images, downloads and
    included files (Sphinx's own records: ``env.images``, ``env.dlfiles``, ``env.dependencies``)."""
    root = Path(env.srcdir)
    found = {root / str(name) for name in env.dependencies.get(docname, ())}
    for table in (env.images, env.dlfiles):
        found.update(root / str(name) for name, (docs, _) in table.items() if docname in docs)
    return sorted(found)


def _skip_unchanged(app: Any, env: Any, docnames: list[str], run: _Execution) -> None:
    """Leave out of ``docnames`` the chapters whose execution gave what it gave at their last reading.

    Each chapter executed by the fast path gets an :func:`output_digest` of its notebook and of
    the files its page referred to at its last reading (Sphinx's records), and is left out only when
    the digest recorded after that reading (:func:`_record_outputs`) is known and equal; its input
    digest is then brought up to date, as if it had been read.
    Off with ``live_inputs_skip_unchanged = False``.
    """
    if not app.config.live_inputs_skip_unchanged or getattr(app, "parallel", 0) > 1:
        return
    unchanged = []
    for job, outcome in zip(run.jobs, run.outcomes_or_failed(), strict=True):
        old = env.live_inputs_outputs.get(job.key)
        if outcome.ok and old is not None and old == output_digest(outcome.notebook, referenced_files(env, job.key)):
            unchanged.append(job.key)
    for docname in unchanged:
        env.live_inputs_digest[docname] = _digest_for(app, docname)
        getattr(app, "live_inputs_executed", {}).pop(docname, None)  # not read: its record stands
    docnames[:] = [d for d in docnames if d not in set(unchanged)]
    if unchanged:
        _logger().info("[live inputs] %d chapter(s) gave what they gave last time, not read again: %s",
                       len(unchanged), ", ".join(sorted(unchanged)))


class _Execution:
    """The forked execution of one build's chapters, waited for once, then handed to myst-nb."""

    def __init__(self, app: Any, env: Any, jobs: list[Any], workers: int, cache_path: Path) -> None:
        self.app, self.env, self.jobs, self.workers, self.cache_path = app, env, jobs, workers, cache_path
        self.keys = {job.key for job in jobs}
        self.outcomes: list[Any] | None = None
        self.thread: Any = None
        self.started = time.perf_counter()

    def _run(self) -> None:
        zygote = self.app.live_inputs_zygote
        try:
            self.outcomes = zygote.run(self.jobs, workers=self.workers,
                                       timeout=self.env.mystnb_config.execution_timeout)
        finally:
            _stop_zygote(self.app)

    def start(self) -> None:
        import threading

        self.thread = threading.Thread(target=self._run, name="live-inputs-chapters", daemon=True)
        self.thread.start()

    def outcomes_or_failed(self) -> list[Any]:
        """One outcome per job; a failed one where the execution gave none."""
        outcomes = self.outcomes or [None] * len(self.jobs)
        return [o if o is not None else _failed(job.key) for job, o in zip(self.jobs, outcomes, strict=True)]

    def wait(self) -> None:
        """Wait for the chapters (run them here when not started), record their seconds, hand them over."""
        from jupyter_cache import get_cache

        if self.thread is None:
            self._run()
        else:
            self.thread.join()
        outcomes = self.outcomes_or_failed()
        budget = _budget(self.app)
        budget["execution_seconds"] = time.perf_counter() - self.started
        budget["workers"] = self.workers
        budget["chapters"] = {job.key: o.seconds for job, o in zip(self.jobs, outcomes, strict=True)}
        _remember_seconds(self.app, budget["chapters"])
        self.app.live_inputs_executed = {job.key: o.notebook for job, o in zip(self.jobs, outcomes, strict=True)
                                         if o.ok}
        _hand_over(get_cache(str(self.cache_path)), self.jobs, outcomes, self.env)


def _failed(key: str) -> Any:
    from analysis.book.nbfork import Outcome

    return Outcome(key, None, 0.0, "the chapters' execution did not finish")


def _await_chapters(app: Any, docname: str, source: list[str]) -> None:
    """``source-read`` (first): before a chapter being executed is read, wait for the execution."""
    run = getattr(app, "live_inputs_pending", None)
    if run is not None and docname in run.keys:
        app.live_inputs_pending = None
        run.wait()


#: File (in the build folder's ``.stages``) keeping each chapter's last execution seconds.
SECONDS_FILE = Path(".stages") / "chapter-seconds.json"


def longest_first(jobs: Sequence[Any], seconds: dict[str, float]) -> list[Any]:
    """``jobs`` in the order to start them: the longest first.

    With two workers and one chapter much longer than the others, starting it last would leave
    one worker idle while it runs; started first, the others run beside it. A chapter's length is
    its seconds in the last build; chapters without them (a cold build, a new chapter) come first,
    the one with the most code first (a guess). Ties keep their order (sorted names).
    """
    def key(job: Any) -> tuple[float, int]:
        if job.key in seconds:
            return (-seconds[job.key], 0)
        return (-float("inf"), -_code_length(job))

    return sorted(jobs, key=key)


def _code_length(job: Any) -> int:
    cells = getattr(getattr(job, "notebook", None), "cells", None) or []
    return sum(len(c.get("source", "")) for c in cells if c.get("cell_type") == "code")


def _past_seconds(app: Any) -> dict[str, float]:
    try:
        return dict(json.loads((Path(app.outdir).parent / SECONDS_FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return {}


def _remember_seconds(app: Any, seconds: dict[str, float]) -> None:
    path = Path(app.outdir).parent / SECONDS_FILE
    merged = {**_past_seconds(app), **{k: round(v, 3) for k, v in seconds.items()}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(merged, indent=1, sort_keys=True) + "\n", encoding="utf-8")


#: File (in the build folder's ``.stages``) where a build records the seconds of its stages.
BUDGET_FILE = Path(".stages") / "sphinx-budget.json"


def _budget(app: Any) -> dict[str, Any]:
    if not hasattr(app, "live_budget"):
        app.live_budget = {"chapters": {}, "execution_seconds": 0.0, "workers": 0}
    return app.live_budget


def _post_start(app: Any, exception: Exception | None) -> None:
    """``build-finished`` (first handler): post-processing of the written site starts."""
    _budget(app)["post_start"] = time.perf_counter()


def _post_end(app: Any, exception: Exception | None) -> None:
    """``build-finished`` (last handler): write the seconds of this build's stages.

    ``{"chapters": {docname: seconds}, "execution_seconds": wall seconds of the forked execution,
    "workers": n, "post_processing_seconds": seconds of the build-finished handlers}`` into
    ``<build folder>/.stages/sphinx-budget.json``, for a build driver to print.
    """
    budget = dict(_budget(app))
    budget["post_processing_seconds"] = time.perf_counter() - budget.pop("post_start", time.perf_counter())
    path = Path(app.outdir).parent / BUDGET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(budget, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def _hand_over(cache: Any, jobs: Sequence[Any], outcomes: Sequence[Any], env: Any) -> None:
    from jupyter_cache.base import CacheBundleIn

    log = _logger()
    for job, outcome in zip(jobs, outcomes, strict=True):
        source = str(env.doc2path(job.key))
        if outcome.ok:
            cache.cache_notebook_bundle(
                CacheBundleIn(outcome.notebook, source, data={"execution_seconds": outcome.seconds}),
                check_validity=False, overwrite=True)
            log.info("[live inputs] %s: executed (forked) in %.2f seconds", source, outcome.seconds)
        else:
            log.info("[live inputs] %s: not run by the fast path (%s); a kernel will run it",
                     source, outcome.error)


#: Allocations between two collections of the youngest generation while a book builds (Python's default: 700).
GC_THRESHOLD = (50_000, 20, 100)


def _quiet_gc(app: Any, config: Any) -> None:
    """``config-inited``: collect cyclic garbage less often while the book builds.

    A build makes millions of small objects that live until it ends (the doctrees, whose nodes
    point at their parents, the environment); with Python's default thresholds the collector
    walks them again and again: about 2 s of a rebuild after one count changed, 5 s of a cold
    build, on the project machine. The youngest generation is now collected every
    ``GC_THRESHOLD[0]`` allocations; what exists once the environment is loaded is frozen
    (:func:`gc.freeze`, at ``env-before-read-docs``), and so is everything when the process exits,
    which then ends without a last walk through its objects. Memory is still reclaimed:
    reference counting frees most objects at once, and every collection still runs, only later.
    Off with ``live_inputs_gc = False``.
    """
    import atexit
    import gc

    if not config.live_inputs_gc:
        return
    collect_less_often()
    atexit.register(gc.freeze)


def collect_less_often() -> None:
    """Raise the garbage collector's thresholds to :data:`GC_THRESHOLD` (never lower them).

    For a process that builds a book or loads a review once and ends (the build driver's data check
    and snapshot, about a tenth of their time otherwise).
    """
    import gc

    gc.set_threshold(*(max(now, wanted) for now, wanted in zip(gc.get_threshold(), GC_THRESHOLD, strict=False)))


def _freeze_loaded(app: Any, env: Any, docnames: list[str]) -> None:
    """``env-before-read-docs``: the loaded environment and the imported code are never garbage; stop walking them."""
    import gc

    if app.config.live_inputs_gc:
        gc.freeze()


def _labelled_bibfiles(app: Any, config: Any) -> None:
    """Point sphinxcontrib-bibtex at copies of the ``.bib`` files with readable, unique citation labels.

    The copies (:func:`analysis.evidence.bibliography.labelled_bibtex`) are written next to the
    doctrees; same-author same-year works cite as "2023a"/"2023b" and entries without a real
    author list as "Venue (authors not yet identified)". Off with ``bibtex_labelled = False``.
    """
    from analysis.evidence.bibliography import labelled_bibtex

    bibfiles = list(getattr(config, "bibtex_bibfiles", None) or [])
    if not config.bibtex_labelled or not bibfiles:
        return
    folder = Path(app.doctreedir).parent / "labelled-bib"
    folder.mkdir(parents=True, exist_ok=True)
    labelled = []
    for name in bibfiles:
        source = Path(app.confdir) / name
        target = folder / Path(name).name
        text = labelled_bibtex(source.read_text(encoding="utf-8"))
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
        labelled.append(os.path.relpath(target, app.srcdir))
    config.bibtex_bibfiles = labelled


def _memoize_plugin_lookups() -> None:
    """Look pybtex's plugins up once per process instead of once per citation.

    sphinxcontrib-bibtex asks pybtex for its style plugins at every citation and bibliography
    entry, and pybtex answers each time by scanning the metadata of every installed distribution
    (``importlib.metadata.entry_points``): a few seconds of a cold build of a book with a hundred
    citations. The installed distributions do not change during a build, so the answer to each
    ``(group, name)`` is kept; plugins registered at run time (pybtex's ``register_plugin``)
    are still looked up first, as before.
    """
    try:
        from pybtex import plugin
    except ImportError:
        return
    lookup = getattr(plugin, "entry_points", None)
    if lookup is None or getattr(lookup, "_live_inputs_cached", False):
        return
    found: dict[tuple[str, str], tuple[Any, ...]] = {}

    def entry_points(*, group: str, name: str) -> tuple[Any, ...]:
        if (group, name) not in found:
            found[group, name] = tuple(lookup(group=group, name=name))
        return found[group, name]

    entry_points._live_inputs_cached = True  # type: ignore[attr-defined]
    plugin.entry_points = entry_points


def setup(app: Any) -> dict[str, Any]:
    """Register the extension with Sphinx."""
    _memoize_plugin_lookups()
    app.add_config_value("live_inputs_fork", True, "", [bool])
    app.add_config_value("live_inputs_workers", 0, "", [int])
    app.add_config_value("live_inputs_preload", [], "", [list, tuple])
    app.add_config_value("live_inputs_prewarm", [], "", [list, tuple])
    app.add_config_value("live_inputs_caches", True, "", [bool])
    app.add_config_value("live_inputs_overlap", True, "", [bool])
    app.add_config_value("live_inputs_gc", True, "", [bool])
    app.add_config_value("live_inputs_skip_unchanged", True, "", [bool])
    app.add_config_value("bibtex_labelled", True, "env", [bool])
    app.connect("config-inited", _labelled_bibfiles, priority=400)
    app.connect("config-inited", _start_zygote)
    app.connect("config-inited", _quiet_gc)
    app.connect("env-before-read-docs", _freeze_loaded, priority=100)
    app.connect("builder-inited", _init_env)
    app.connect("env-before-read-docs", _pre_execute)
    app.connect("build-finished", _finish)
    app.connect("source-read", _await_chapters, priority=1)
    app.connect("source-read", _record)
    app.connect("env-updated", _record_outputs)
    app.connect("env-get-outdated", _outdated)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("build-finished", _post_start, priority=1)
    app.connect("build-finished", _post_end, priority=999)
    # The site's self-containment and page metadata (see each module).
    for part in ("analysis.book.mathml", "analysis.book.pagemeta", "analysis.book.themetrim",
                 "analysis.book.iconfonts", "analysis.book.imagehints", "analysis.book.steadypages"):
        app.setup_extension(part)
    return {"version": "1", "env_version": 1, "parallel_read_safe": True}
