"""Optional dependencies, named when they are missing.

The engine needs only numpy, scipy and pandas. The other rooms need the libraries of an *extra*
declared in ``pyproject.toml``: ``evidence`` (YAML and BibTeX files), ``plots`` (matplotlib and
forestplot: the figures of :mod:`analysis.book.plots`, without the Jupyter Book stack) and ``book``
(the Jupyter Book kit, which includes ``evidence``, ``search`` and ``plots``). A reuser who installed only the engine gets, instead of a bare
``ModuleNotFoundError``, an :class:`ImportError` naming the extra and the command that installs it.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

__all__ = ["EXTRAS", "MissingExtraError", "install_hint", "require", "require_extra"]

#: Import name -> distribution name of what each extra provides (kept equal to ``pyproject.toml``
#: by a test). ``book`` includes ``evidence``.
EXTRAS: dict[str, dict[str, str]] = {
    "evidence": {
        "yaml": "PyYAML",
        "bibtexparser": "bibtexparser",
        "pylatexenc": "pylatexenc",
        "frictionless": "frictionless",
    },
    "plots": {
        "matplotlib": "matplotlib",
        "forestplot": "forestplot",
    },
    "book": {
        "jupyter_book": "jupyter-book",
        "myst_nb": "myst-nb (with jupyter-book)",
        "IPython": "ipython (with jupyter-book)",
        "ipykernel": "ipykernel (with jupyter-book)",
        "nbformat": "nbformat (with jupyter-book)",
        "jupyter_cache": "jupyter-cache (with jupyter-book)",
        "sphinx": "sphinx (with jupyter-book)",
        "latex2mathml": "latex2mathml",
        "fontTools": "fonttools",
        "brotli": "brotli",
        "feedgen": "feedgen",
    },
}
EXTRAS["search"] = {"httpx": "httpx", "tenacity": "tenacity"}
EXTRAS["book"] = {**EXTRAS["evidence"], **EXTRAS["search"], **EXTRAS["plots"], **EXTRAS["book"]}


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message names the extra that provides it."""


def install_hint(extra: str) -> str:
    """The command that installs an extra, as a reader with a clone of the review runs it."""
    return (f'pip install ".[{extra}]"  (from the root of a clone of the review; from elsewhere: '
            f'pip install "/path/to/clone[{extra}]")')


def _message(who: str, missing: list[str], extra: str) -> str:
    names = ", ".join(f"{m} ({EXTRAS[extra].get(m, m)})" for m in missing)
    return (f"{who} needs the optional '{extra}' dependencies, and {names} "
            f"{'is' if len(missing) == 1 else 'are'} not installed. Install the extra with: "
            f"{install_hint(extra)}")


def require(module: str, extra: str, who: str | None = None) -> ModuleType:
    """Import ``module``, or raise :class:`MissingExtraError` naming the extra that provides it.

    Parameters
    ----------
    module : str
        Dotted import name (``"yaml"``, ``"bibtexparser.model"``).
    extra : str
        The extra of ``pyproject.toml`` that installs it (``"evidence"`` or ``"book"``).
    who : str, optional
        What needs it, for the message (default: the module's top-level name).

    Returns
    -------
    module
        The imported module.
    """
    top = module.split(".")[0]
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] != top:  # something else is missing: not ours to rename
            raise
        raise MissingExtraError(_message(who or module, [top], extra)) from None


def require_extra(extra: str, who: str) -> None:
    """Check that every library of ``extra`` can be imported, without importing them.

    Raises
    ------
    MissingExtraError
        Naming each missing library, the extra and the install command.
    """
    missing = [m for m in EXTRAS[extra] if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingExtraError(_message(who, missing, extra))
