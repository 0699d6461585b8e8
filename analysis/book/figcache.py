"""A content-addressed cache of saved figures, so that a rebuild redraws only changed figures.

A chapter re-executed because one number changed usually shows several figures, most of which
do not depend on that number. Drawing and saving a figure (SVG and PNG) is most of what such a
chapter costs, so the figure is described before it is drawn, as a :class:`Plot` (a function
and its arguments), and looked up by a key computed from everything the saved files depend on:

* the plotting function (module and qualified name) and the source code of every module of its
  top-level package (any change to the plotting code changes every key);
* its arguments, pickled (so equal data give equal keys; data that cannot be pickled are never
  cached);
* the extra inputs the caller names (file format options, alt text written into the files);
* matplotlib's rcParams at drawing time, and the versions of Python, matplotlib, numpy and
  pandas.

A hit copies the stored files; a miss draws, saves and stores. Keys can only miss when nothing
relevant changed (for example when pickling the same data gives different bytes), never hit
when something did, so a cached figure is byte-identical to a freshly drawn one; the tests check
this. The cache folder is chosen by the caller (the book's build folder, emptied by a cold
build); without a folder nothing is cached.

Computed values are cached the same way (:func:`cached_value`): a value that costs many model fits (the
robustness panel, :mod:`analysis.evidence.multiverse`) is stored as JSON under a key computed from its
inputs and the source code of the ``analysis`` package, in the same folder as the figures, so a chapter
re-executed for another reason does not refit it, and a cold build fits it once.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.living.buildcache import code_digest
from analysis.living.buildcache import package_dir as _package_dir

__all__ = ["Plot", "cached_save", "cached_value", "code_digest", "plot_key", "trim", "value_key"]

#: Environment variable naming the cache folder (set by :mod:`analysis.book.sphinxext` for a build).
CACHE_ENV = "LIVE_INPUTS_FIGURE_CACHE"


@dataclass(frozen=True)
class Plot:
    """A figure not drawn yet: ``function(*args, **kwargs)`` returns a matplotlib Figure."""

    function: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def draw(self) -> Any:
        """Draw the figure (the only step that costs)."""
        return self.function(*self.args, **dict(self.kwargs))


def _versions() -> str:
    import matplotlib
    import numpy
    import pandas

    return f"{sys.version}|{matplotlib.__version__}|{numpy.__version__}|{pandas.__version__}"


def _rc_state() -> bytes:
    import matplotlib

    return repr(sorted((k, repr(v)) for k, v in matplotlib.rcParams.items())).encode()


def plot_key(plot: Plot, extra: Sequence[Any] = ()) -> str | None:
    """The cache key of ``plot`` saved with ``extra`` options; None when it cannot be computed.

    ``sha256(function identity, package code digest, pickle(args, kwargs, extra), rcParams,
    library versions)``.
    """
    package = _package_dir(plot.function)
    if package is None:
        return None
    try:
        data = pickle.dumps((plot.args, dict(plot.kwargs), tuple(extra)), protocol=4)
    except Exception:  # noqa: BLE001 - unpicklable data are simply not cached
        return None
    digest = hashlib.sha256()
    for part in (f"{plot.function.__module__}.{plot.function.__qualname__}".encode(),
                 code_digest(package).encode(), data, _rc_state(), _versions().encode()):
        digest.update(len(part).to_bytes(8, "little") + part)
    return digest.hexdigest()


def cached_save(plot: Plot, stem: Path, save: Callable[[Any, Path], list[Path]],
                extra: Sequence[Any] = (), cache_dir: Path | None = None) -> list[Path]:
    """Write the files of ``plot`` at ``stem`` (``stem.svg``, ...), from the cache when possible.

    Parameters
    ----------
    plot : Plot
        The figure to draw on a miss.
    stem : pathlib.Path
        Output path without suffix.
    save : callable
        ``save(figure, stem) -> written paths``; called on a miss.
    extra : sequence
        Everything besides the plot that changes the files (format options, embedded text).
    cache_dir : pathlib.Path, optional
        The cache folder; defaults to the folder named by the ``LIVE_INPUTS_FIGURE_CACHE``
        environment variable. Without one, the figure is drawn and saved, never cached.

    Returns
    -------
    list of pathlib.Path
        The files written at ``stem``.
    """
    if cache_dir is None and os.environ.get(CACHE_ENV):
        cache_dir = Path(os.environ[CACHE_ENV])
    key = plot_key(plot, extra) if cache_dir is not None else None
    entry = cache_dir / key if key else None
    if entry is not None and entry.is_dir():
        os.utime(entry)  # recently used: kept by trim()
        return _restore(entry, stem)
    written = save(plot.draw(), stem)
    if entry is not None:
        _store(entry, written)
    return written


#: File holding a cached value inside its entry folder.
VALUE_FILE = "value.json"


def value_key(inputs: Any) -> str | None:
    """The cache key of a value computed from ``inputs`` by this package's code; None when ``inputs`` cannot
    be pickled.

    ``sha256(package code digest, pickle(inputs), library versions)``: any change to the ``analysis``
    package's source gives a new key.
    """
    try:
        data = pickle.dumps(inputs, protocol=4)
    except Exception:  # noqa: BLE001 - unpicklable inputs are simply not cached
        return None
    digest = hashlib.sha256()
    for part in (b"value", code_digest(str(Path(__file__).resolve().parents[1])).encode(), data,
                 _versions().encode()):
        digest.update(len(part).to_bytes(8, "little") + part)
    return digest.hexdigest()


def cached_value(inputs: Any, compute: Callable[[], Any], cache_dir: Path | None = None) -> Any:
    """``compute()``, or the value stored for equal ``inputs`` (JSON: lists, dicts, numbers, text, None).

    ``cache_dir`` defaults to the folder named by ``LIVE_INPUTS_FIGURE_CACHE``; without one the value is
    computed every time. The stored value is what ``compute`` returned, written as JSON and read back, so
    a hit and a miss give equal values (a test checks it); a value JSON cannot hold raises ``TypeError``.
    """
    if cache_dir is None and os.environ.get(CACHE_ENV):
        cache_dir = Path(os.environ[CACHE_ENV])
    key = value_key(inputs) if cache_dir is not None else None
    entry = cache_dir / key if (cache_dir is not None and key) else None
    if entry is not None and (entry / VALUE_FILE).is_file():
        os.utime(entry)
        return json.loads((entry / VALUE_FILE).read_text(encoding="utf-8"))
    text = json.dumps(compute(), allow_nan=False, sort_keys=True)
    if entry is not None:
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=entry.parent, prefix=".tmp-"))
        (tmp / VALUE_FILE).write_text(text, encoding="utf-8")
        try:
            tmp.rename(entry)
        except OSError:  # stored meanwhile by another worker: same key, same value
            shutil.rmtree(tmp, ignore_errors=True)
    return json.loads(text)


def _restore(entry: Path, stem: Path) -> list[Path]:
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for stored in sorted(entry.iterdir(), key=lambda p: p.name):
        target = stem.with_name(stem.name + stored.suffix)
        shutil.copyfile(stored, target)
        written.append(target)
    return written


def _store(entry: Path, written: list[Path]) -> None:
    """Store the files under ``entry`` atomically (a parallel worker may store the same key)."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=entry.parent, prefix=".tmp-"))
    for index, path in enumerate(written):  # numbered: restored in the order they were written
        shutil.copyfile(path, tmp / f"{index}{path.suffix}")
    try:
        tmp.rename(entry)
    except OSError:  # stored meanwhile by another worker: same key, same bytes
        shutil.rmtree(tmp, ignore_errors=True)


def trim(cache_dir: Path, keep: int) -> int:
    """Remove all but the ``keep`` most recently used entries of ``cache_dir``; return how many."""
    if not cache_dir.is_dir():
        return 0
    entries = sorted((p for p in cache_dir.iterdir() if p.is_dir() and not p.name.startswith(".")),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    for entry in entries[keep:]:
        shutil.rmtree(entry, ignore_errors=True)
    return max(0, len(entries) - keep)
