"""A per-build cache of expensive results: computed once, shared by every chapter and the snapshot.

Several chapters of a book, and the results snapshot written after it, need the same expensive
computation (the syntheses of an evidence set, a panel of alternative analyses); each runs in its
own process. :func:`cached` computes ``function(*args, **kwargs)`` once and stores the pickled
result in a folder of the build (named by the caller, or by the ``LIVE_INPUTS_BUILD_CACHE``
environment variable that :mod:`analysis.book.sphinxext` and ``tools/build.py`` set); every other
process, and every later build, with the same key reads it instead of computing it::

    key = sha256(function's module and name, digest of the code of its top-level package,
                 pickle(args, kwargs), versions of Python, numpy, scipy and pandas)

Arguments are keyed by their pickled bytes, so equal data give equal keys, and the code digest
covers every module of the package, so any change to the code computes anew. A key can miss when
nothing relevant changed (pickling equal data differently), never hit when something did, so a
cached result is the result the call would give. Two processes asking for the same key at the same
time do not both compute it: the second waits for the first (a lock file per key, ``fcntl``).
Without a folder, or with arguments or a result that cannot be pickled, the function is simply
called. Use it for pure functions of their arguments: a function that reads files must receive
what it reads (or its digest) as an argument.

Nothing here knows about any particular review.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import pickle
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["CACHE_ENV", "cache_key", "cached", "code_digest", "package_dir", "trim"]

#: Environment variable naming the cache folder of the current build.
CACHE_ENV = "LIVE_INPUTS_BUILD_CACHE"

T = TypeVar("T")


@functools.cache
def code_digest(package_dir: str) -> str:
    """SHA-256 of the names and contents of every ``.py`` file under ``package_dir``."""
    digest = hashlib.sha256()
    root = Path(package_dir)
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def package_dir(function: Callable[..., Any]) -> str | None:
    """The folder of the top-level package ``function`` belongs to (None when it has no file)."""
    top = sys.modules.get(function.__module__.split(".")[0])
    path = getattr(top, "__file__", None)
    return str(Path(path).parent) if path else None


def _versions() -> str:
    parts = [sys.version]
    for name in ("numpy", "scipy", "pandas"):
        module = sys.modules.get(name)
        parts.append(f"{name}={getattr(module, '__version__', '-')}")
    return "|".join(parts)


def cache_key(function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    """The key of ``function(*args, **kwargs)`` (see the module docstring); None when it has none."""
    package = package_dir(function)
    if package is None:
        return None
    try:
        data = pickle.dumps((args, sorted(kwargs.items())), protocol=4)
    except Exception:  # noqa: BLE001 - arguments that cannot be pickled are not cached
        return None
    digest = hashlib.sha256()
    for part in (f"{function.__module__}.{function.__qualname__}".encode(),
                 code_digest(package).encode(), data, _versions().encode()):
        digest.update(len(part).to_bytes(8, "little") + part)
    return digest.hexdigest()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no lock, at worst computed twice
        yield
        return
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _load(path: Path) -> tuple[bool, Any]:
    try:
        with path.open("rb") as handle:
            return True, pickle.load(handle)
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError):
        return False, None


def _store(path: Path, value: Any) -> None:
    try:
        data = pickle.dumps(value, protocol=4)
    except Exception:  # noqa: BLE001 - a result that cannot be pickled is not cached
        return
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def cached(function: Callable[..., T], *args: Any, cache_dir: Path | str | None = None,
           **kwargs: Any) -> T:
    """``function(*args, **kwargs)``, read from the build's cache when it was computed before.

    Parameters
    ----------
    function : callable
        A pure function of its arguments, defined in an importable module.
    *args, **kwargs
        Its arguments (keyed by their pickled bytes).
    cache_dir : path, optional
        The cache folder; default the folder named by ``LIVE_INPUTS_BUILD_CACHE``. Without one,
        the function is called and nothing is stored.

    Returns
    -------
    The function's result (a fresh unpickled copy when read from the cache).
    """
    folder = cache_dir if cache_dir is not None else os.environ.get(CACHE_ENV)
    key = cache_key(function, args, kwargs) if folder else None
    if key is None:
        return function(*args, **kwargs)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    entry = folder / f"{key}.pickle"
    with _locked(folder / f"{key}.lock"):
        found, value = _load(entry)
        if found:
            os.utime(entry)  # recently used: kept by trim()
            return value
        value = function(*args, **kwargs)
        _store(entry, value)
    return value


def trim(cache_dir: Path | str, keep: int) -> int:
    """Remove all but the ``keep`` most recently used results (and their locks); return how many."""
    folder = Path(cache_dir)
    if not folder.is_dir():
        return 0
    entries = sorted(folder.glob("*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
    for entry in entries[keep:]:
        entry.unlink(missing_ok=True)
        entry.with_suffix(".lock").unlink(missing_ok=True)
    return max(0, len(entries) - keep)
