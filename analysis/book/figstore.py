"""Figures of stored results, drawn once when the results are stored and kept beside them.

Some results are not computed when the book is built but read from files (the simulation study in
``results/simulation/``, written by ``make simulate``). Their figures need not be drawn at every
build either: they are drawn when the results are written, by the same code and with the same
options the book uses, and stored in a folder next to the results (``results/simulation/figures/``),
with a manifest ``figures.json`` giving, for each figure, the key of its inputs and the SHA-256 of
each file. The chapter copies a stored figure whose key and files match; a figure whose key does
not match (the results, the options, the alt text or the plotting code changed since it was drawn)
is drawn by the chapter as before, so the book is right either way and only slower, and a test
fails until the store is written again (``python -m tools.simulate --figures-only``).

The key of a figure (:func:`figure_key`) is the SHA-256 of

* the plotting function (module and qualified name) and the source of its module, of the modules
  of its plotting package that module imports, and of the package's ``__init__`` (which saves the
  files): a change elsewhere in the package does not make a stored figure stale;
* the function's arguments written as canonical text (a DataFrame as CSV with its column types,
  floats at full precision): equal data give equal keys on every machine;
* the alt text written into the files, the formats and resolution, and matplotlib's version.

A stored figure is what :func:`analysis.book.bookkit.show_figure` would write for the same plot and
alt text: the same :func:`analysis.book.plots.save_figure` call, whose files do not depend on
the process (no dates, fixed SVG ids; the inline backend of a chapter and the file backend of a
command give the same bytes).

:func:`simulation_figures` is the collection of the simulation chapter; it takes a summary table,
so the figures of another summary (another run of the study) are made by the same function with
another ``prefix`` and stored in that summary's folder.
"""

from __future__ import annotations

import ast
import hashlib
import json
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.book.figcache import Plot

__all__ = ["MANIFEST", "SIMULATION_MEASURES", "StoredFigure", "figure_key", "restore",
           "simulation_figures", "stale_figures", "write_store"]

#: The manifest of a store folder: for each figure its key and the SHA-256 of its files.
MANIFEST = "figures.json"
#: Format of the manifest (a change of the key's recipe changes it, so every stored figure is redrawn).
_FORMAT = 1
#: The files of every stored figure, in the order :func:`analysis.book.plots.save_figure` writes them.
_SUFFIXES = (".svg", ".png")


@dataclass(frozen=True)
class StoredFigure:
    """One figure of a store: the name of its files, the plot that draws it and its alt text.

    Attributes
    ----------
    stem : str
        File name without suffix (``<stem>.svg``, ``<stem>.png``), in the store and on the page.
    plot : Plot
        The plotting function and its data.
    alt : str
        The alt text, shown on the page and written into both files.
    """

    stem: str
    plot: Plot
    alt: str

    @property
    def key(self) -> str:
        """The key of this figure's inputs (:func:`figure_key`)."""
        return figure_key(self.plot, self.alt)

    def save(self, stem: Path) -> list[Path]:
        """Draw the figure and write ``<stem>.svg`` and ``<stem>.png`` (as the book saves figures)."""
        from analysis.book.plots import save_figure

        return save_figure(self.plot.draw(), stem, alt=self.alt)


# ----------------------------------------------------------------------------- keys


def _canonical(value: Any) -> Any:
    """``value`` as JSON-ready data that equal inputs give on every machine; TypeError otherwise."""
    if isinstance(value, pd.DataFrame):
        return {"DataFrame": [[str(c) for c in value.columns], [str(t) for t in value.dtypes],
                              value.to_csv(lineterminator="\n")]}
    if isinstance(value, pd.Series):
        return {"Series": [str(value.name), str(value.dtype), value.to_csv(lineterminator="\n")]}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int) or (hasattr(value, "dtype") and getattr(value.dtype, "kind", "") in "iu"
                                  and not hasattr(value, "__len__")):
        return int(value)
    if isinstance(value, float) or (hasattr(value, "dtype") and getattr(value.dtype, "kind", "") == "f"
                                    and not hasattr(value, "__len__")):
        return {"float": repr(float(value))}
    if isinstance(value, Mapping):
        return {"Mapping": sorted(([_canonical(k), _canonical(v)] for k, v in value.items()),
                                  key=lambda kv: json.dumps(kv, sort_keys=True))}
    if isinstance(value, (list, tuple)):
        return {type(value).__name__: [_canonical(v) for v in value]}
    msg = (f"a stored figure's inputs must be DataFrames, Series, mappings, sequences, numbers, text "
           f"or None (got {type(value).__name__})")
    raise TypeError(msg)


def _plot_modules(function: Callable[..., Any]) -> list[Path]:
    """The source files a plotting function draws with: its module, the modules of its package that
    it imports (followed from module to module) and the package's ``__init__`` (whose own imports are
    not followed: it imports every figure of the package)."""
    package = function.__module__.rpartition(".")[0] or function.__module__
    files: dict[str, Path] = {}
    init = getattr(sys.modules.get(package), "__file__", None)
    if init:
        files[package] = Path(init)
    todo = [function.__module__]
    while todo:
        name = todo.pop()
        path = Path(getattr(sys.modules.get(name), "__file__", None) or "")
        if name in files or not path.is_file():
            continue
        files[name] = path
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and (
                    node.module == package or node.module.startswith(package + ".")):
                todo.append(node.module)
                todo.extend(f"{node.module}.{alias.name}" for alias in node.names
                            if f"{node.module}.{alias.name}" in sys.modules)
    return [files[name] for name in sorted(files)]


def figure_key(plot: Plot, alt: str) -> str:
    """The key of the files that ``plot`` saved with ``alt`` gives (see the module docstring).

    Raises
    ------
    TypeError
        When an argument of the plot has no canonical text (see the accepted types in the message).
    """
    import matplotlib

    function = plot.function
    digest = hashlib.sha256()
    parts: list[bytes] = [f"figstore {_FORMAT}".encode(),
                          f"{function.__module__}.{function.__qualname__}".encode()]
    parts += [path.name.encode() + b"\0" + path.read_bytes() for path in _plot_modules(function)]
    parts += [json.dumps(_canonical([list(plot.args), dict(plot.kwargs)]), sort_keys=True).encode(),
              alt.encode(), repr(_SUFFIXES).encode(), f"matplotlib {matplotlib.__version__}".encode()]
    for part in parts:
        digest.update(len(part).to_bytes(8, "little") + part)
    return digest.hexdigest()


# ----------------------------------------------------------------------------- the store


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return data.get("figures", {}) if data.get("format") == _FORMAT else {}


def _fresh(folder: Path, entry: Mapping[str, Any] | None, figure: StoredFigure, key: str) -> bool:
    if not entry or entry.get("key") != key:
        return False
    files = entry.get("files", {})
    for suffix in _SUFFIXES:
        name = figure.stem + suffix
        path = folder / name
        if not path.is_file() or files.get(name) != _sha256(path):
            return False
    return True


def stale_figures(folder: Path, figures: Sequence[StoredFigure]) -> list[str]:
    """The stems of ``figures`` that ``folder`` does not hold as drawn from their current inputs
    (no entry, another key, a file missing or not the file that was stored), in the given order."""
    manifest = _manifest(Path(folder))
    return [f.stem for f in figures if not _fresh(Path(folder), manifest.get(f.stem), f, f.key)]


def write_store(folder: Path, figures: Sequence[StoredFigure]) -> list[str]:
    """Draw into ``folder`` every figure of ``figures`` that is stale there, and write the manifest.

    The store then holds exactly ``figures``: files and entries of other figures are removed.

    Parameters
    ----------
    folder : pathlib.Path
        The store (created if missing), next to the results the figures show.
    figures : sequence of StoredFigure
        The whole collection kept in this folder (stems must differ).

    Returns
    -------
    list of str
        The stems drawn (those that were stale).
    """
    folder = Path(folder)
    stems = [f.stem for f in figures]
    if len(set(stems)) != len(stems):
        msg = f"stored figures need distinct stems; got {', '.join(stems)}"
        raise ValueError(msg)
    folder.mkdir(parents=True, exist_ok=True)
    old = _manifest(folder)
    manifest: dict[str, Any] = {}
    drawn = []
    for figure in figures:
        key = figure.key
        if not _fresh(folder, old.get(figure.stem), figure, key):
            figure.save(folder / figure.stem)
            drawn.append(figure.stem)
        manifest[figure.stem] = {
            "key": key,
            "function": f"{figure.plot.function.__module__}.{figure.plot.function.__qualname__}",
            "files": {figure.stem + s: _sha256(folder / (figure.stem + s)) for s in _SUFFIXES},
        }
    for path in folder.iterdir():
        if path.suffix in _SUFFIXES and path.stem not in manifest:
            path.unlink()
    (folder / MANIFEST).write_text(json.dumps({"format": _FORMAT, "figures": manifest}, indent=2,
                                              sort_keys=True) + "\n", encoding="utf-8")
    return drawn


def restore(folder: Path, figure: StoredFigure, stem: Path) -> list[Path] | None:
    """Copy the stored files of ``figure`` to ``<stem>.svg`` and ``<stem>.png`` when ``folder`` holds
    it as drawn from its current inputs; None (nothing copied) when it is stale or missing."""
    folder = Path(folder)
    if not _fresh(folder, _manifest(folder).get(figure.stem), figure, figure.key):
        return None
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix in _SUFFIXES:
        target = stem.with_name(stem.name + suffix)
        shutil.copyfile(folder / (figure.stem + suffix), target)
        written.append(target)
    return written


# ----------------------------------------------------------------------------- collections

#: The measures the simulation chapter draws, in its order: (measure, with the rule's coverage band).
SIMULATION_MEASURES: tuple[tuple[str, bool], ...] = (
    ("coverage_ci", True), ("interval_score", False), ("width_ci", False), ("bias", False),
    ("coverage_pi", False),
)


def simulation_figures(summary: pd.DataFrame, choice: Any, labels: Mapping[str, str],
                       prefix: str = "simulation",
                       mechanism: str = "binomial-normal") -> list[StoredFigure]:
    """The figures of a simulation summary: one per measure of :data:`SIMULATION_MEASURES`.

    Parameters
    ----------
    summary : pandas.DataFrame
        The summary table of a run of the simulation study (``summary.csv``).
    choice : analysis.engine.method_choice.MethodChoice
        The rule's choice on that summary (:func:`analysis.engine.method_choice.choose_method`): its
        method is highlighted and its coverage band shaded in the coverage figure.
    labels : mapping of str to str
        Method -> label in the legends and the alt text.
    prefix : str, default "simulation"
        Start of each stem: ``<prefix>-coverage-ci`` and so on.
    mechanism : str, default "binomial-normal"
        The data-generating mechanism whose scenarios are drawn (a grid of k, proportion and tau).

    Returns
    -------
    list of StoredFigure
        In the order of :data:`SIMULATION_MEASURES`, with the alt text computed from the data.
    """
    from analysis.book.plots.simulation import simulation_plot, simulation_plot_alt_text

    if "mechanism" not in summary.columns:
        msg = "simulation summary lacks the column 'mechanism'"
        raise ValueError(msg)
    model = summary[summary["mechanism"] == mechanism]
    options = {"labels": dict(labels), "highlight": choice.chosen}
    figures = []
    for measure, band in SIMULATION_MEASURES:
        alt = simulation_plot_alt_text(model, measure, **options)
        kwargs = {**options, "band": tuple(float(b) for b in choice.band) if band else None}
        figures.append(StoredFigure(f"{prefix}-{measure.replace('_', '-')}",
                                    Plot(simulation_plot, (model, measure), kwargs), alt))
    return figures
