"""Living-review metadata: the review version and the date of its data.

Reporting helpers with file I/O (kept out of the statistics engine). Generic: any review that
keeps a ``VERSION`` file and a PRISMA ``search_flow.yaml`` with dated versions can use them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path


def read_version(root: Path | str = ".") -> str:
    """Return the review version written in ``<root>/VERSION`` (format ``YY.MINOR.PATCH``)."""
    path = Path(root) / "VERSION"
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the review version ({exc.strerror})") from None
    if not text:
        raise ValueError(f"{path}: the file is empty; expected a version such as 26.0.0")
    return text


def data_date(search_flow: dict) -> dt.date:
    """Date of the data: the latest ``search_date`` among the versions of a search-flow record.

    Parameters
    ----------
    search_flow : dict
        The parsed ``search_flow.yaml`` (a mapping with a ``versions`` list, each with a
        ``search_date``).
    """
    dates = [_as_date(v.get("search_date"), v.get("version")) for v in search_flow.get("versions", [])]
    dates = [d for d in dates if d is not None]
    if not dates:
        raise ValueError("search_flow: no version has a search_date")
    return max(dates)


def _as_date(value: object, version: object) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and value:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"search_flow: version {version}: search_date {value!r} is not a date (YYYY-MM-DD)"
            ) from None
    return None
