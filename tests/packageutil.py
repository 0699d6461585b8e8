"""The modules of the ``analysis`` package, found on disk (shared by the packaging and API tests)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def package_modules() -> list[str]:
    """Dotted names of every module and subpackage of ``analysis``, sorted.

    Found on disk rather than by importing, so a room that fails to import hides none of its modules.
    """
    names = []
    for path in sorted((ROOT / "analysis").rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return names
