"""Options named by a word, matched without regard to case.

``metaprop(..., method="reml")`` means ``method="REML"``, ``ci="HKSJ"`` means ``ci="hksj"``: every
option of the engine that takes one of a few names accepts them in any case and stores the name as
the engine spells it, so results, tables and the methods text show one spelling.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["choose"]


def choose(name: str, value: Any, allowed: Sequence[str]) -> str:
    """The entry of ``allowed`` equal to ``value`` when case is ignored.

    Parameters
    ----------
    name : str
        The option, as named in messages (``"method"``).
    value : object
        What the caller gave.
    allowed : sequence of str
        The accepted spellings; no two may differ only in case.

    Returns
    -------
    str
        The accepted spelling of ``value``.

    Raises
    ------
    ValueError
        ``value`` is not a string or matches none of ``allowed``; the message lists them.
    """
    if isinstance(value, str):
        for option in allowed:
            if value.casefold() == option.casefold():
                return option
    raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
