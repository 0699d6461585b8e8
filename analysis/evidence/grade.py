"""GRADE certainty of evidence from per-domain judgements.

Pure arithmetic of the GRADE approach (guyatt2008): a body of evidence starts at a level set by its
design (observational evidence, including case series, starts at *low*), and each domain judged a
*serious* concern rates it down one level, a *very serious* concern two, never below the lowest
level. The judgements themselves (and their written reasons) are the reviewers', not computed here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

#: Levels of certainty, lowest first.
LEVELS: tuple[str, ...] = ("very low", "low", "moderate", "high")

#: Rating of a domain -> levels rated down.
DOWNGRADE: Mapping[str, int] = {"not_serious": 0, "serious": 1, "very_serious": 2}

#: Certainty shown for an outcome no study has reported.
NO_EVIDENCE = "no evidence"


def rate(start: str, ratings: Sequence[str], levels: Sequence[str] = LEVELS) -> str:
    """Certainty after rating ``start`` down for each domain rating.

    Parameters
    ----------
    start : one of ``levels``
        Starting certainty (``"low"`` for observational evidence).
    ratings : sequence of {"not_serious", "serious", "very_serious"}
    levels : sequence of str, lowest first.

    Examples
    --------
    >>> rate("low", ["serious", "not_serious"])
    'very low'
    """
    if start not in levels:
        raise ValueError(f"GRADE: starting level {start!r} is not one of {', '.join(levels)}")
    unknown = [r for r in ratings if r not in DOWNGRADE]
    if unknown:
        raise ValueError(f"GRADE: unknown rating(s) {unknown}; use {', '.join(DOWNGRADE)}")
    steps = sum(DOWNGRADE[r] for r in ratings)
    return levels[max(0, list(levels).index(start) - steps)]


def certainty_table(
    judgements: pd.DataFrame,
    k_by_outcome: Mapping[str, int],
    *,
    start: str = "low",
    levels: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Certainty and reasons per outcome.

    Parameters
    ----------
    judgements : DataFrame with columns ``outcome``, ``domain``, ``rating``, ``reason``.
    k_by_outcome : outcome -> number of studies reporting it (0 gives "no evidence").
    start, levels : see :func:`rate`.

    Returns
    -------
    DataFrame indexed by outcome with columns ``certainty``, ``reasons`` and ``downgrades``.
    """
    levels = tuple(levels or LEVELS)
    rows = {}
    for outcome, k in k_by_outcome.items():
        mine = judgements.loc[judgements["outcome"] == outcome]
        if k == 0:
            rows[outcome] = (NO_EVIDENCE, "no study has reported this outcome", 0)
            continue
        concerns = mine.loc[mine["rating"] != "not_serious"]
        reasons = "; ".join(
            f"{str(d).replace('_', ' ')} ({str(r).replace('_', ' ')}): {str(why).rstrip('. ')}"
            for d, r, why in zip(concerns["domain"], concerns["rating"], concerns["reason"], strict=True)
        )
        certainty = rate(start, list(mine["rating"]), levels)
        if mine.empty:
            reasons = "not yet assessed; shown at the starting level"
        rows[outcome] = (certainty, reasons or "none", sum(DOWNGRADE[r] for r in mine["rating"]))
    return pd.DataFrame.from_dict(rows, orient="index", columns=["certainty", "reasons", "downgrades"])
