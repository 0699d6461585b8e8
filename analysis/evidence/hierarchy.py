"""Decision rules for selecting one result per study from several candidate outcome rows.

A review often pre-specifies an outcome that studies report under different definitions: one
reports strict recovery, another "response" (recovery or improvement), a third any-lineage
recovery. The Cochrane Handbook asks for the rules that pick one result per study to be written
down before the data are seen [cochranehandbook2024]: an ordered list of eligible outcomes, the
highest-ranked available one being used. This module applies such a list.

The plan lists it under ``outcome_hierarchy``::

    outcome_hierarchy:
      composite_outcome_id:
        prefer: [strict_outcome, [looser_a, looser_b], loosest_outcome]

Each level is an outcome id or a list of ids of equal rank. For each study the first level with
an available row (both ``events`` and ``total`` recorded) is used; among rows of equal rank the
one with the larger denominator is used (more patients assessed), then the one listed first. A
study without any available row does not enter the outcome. The chosen row keeps its own
``definition``; the column ``selected_from`` names the outcome it came from.

Nothing here knows a clinical topic: the ids come from the plan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

__all__ = ["hierarchy_levels", "select_by_hierarchy"]


def hierarchy_levels(spec: Mapping[str, Any], where: str = "outcome_hierarchy") -> list[list[str]]:
    """The ordered levels of one hierarchy entry (``{"prefer": [...]}``), each a list of outcome ids.

    Raises
    ------
    ValueError
        ``prefer`` is missing or empty, a level is empty or not text, or an id appears twice.
    """
    prefer = spec.get("prefer") if isinstance(spec, Mapping) else None
    if not isinstance(prefer, list) or not prefer:
        raise ValueError(f"analysis plan: {where}: 'prefer' must be a non-empty list of outcome ids")
    levels: list[list[str]] = []
    seen: set[str] = set()
    for i, level in enumerate(prefer):
        ids = level if isinstance(level, list) else [level]
        if not ids or not all(isinstance(x, str) and x for x in ids):
            raise ValueError(f"analysis plan: {where}.prefer[{i}]: expected an outcome id or a list of ids, got {level!r}")
        twice = sorted(seen.intersection(ids))
        if twice or len(set(ids)) < len(ids):
            raise ValueError(f"analysis plan: {where}.prefer[{i}]: outcome listed twice ({', '.join(twice or ids)})")
        seen.update(ids)
        levels.append(list(ids))
    return levels


def select_by_hierarchy(outcomes: pd.DataFrame, levels: Sequence[Sequence[str]], outcome_id: str) -> pd.DataFrame:
    """One row per study: the highest-ranked available row among ``levels``.

    Parameters
    ----------
    outcomes : long outcome table with at least ``study_id``, ``outcome``, ``events``, ``total``.
    levels : ordered levels of outcome ids (:func:`hierarchy_levels`); the first is preferred.
    outcome_id : id given to the selected rows (column ``outcome``); the original id goes to
        ``selected_from`` and its rank (1 = first level) to ``selected_rank``.

    Returns
    -------
    pandas.DataFrame
        The selected rows in the order of ``outcomes`` (an empty frame with the same columns
        when no study has an available row).
    """
    for column in ("study_id", "outcome", "events", "total"):
        if column not in outcomes.columns:
            raise ValueError(f"outcome table: column '{column}' is missing")
    rank = {oid: r for r, level in enumerate(levels, start=1) for oid in level}
    order = {oid: i for i, oid in enumerate(oid for level in levels for oid in level)}
    candidates = outcomes.loc[outcomes["outcome"].isin(rank)]
    candidates = candidates.loc[candidates["events"].notna() & candidates["total"].notna()].copy()
    candidates["_rank"] = candidates["outcome"].map(rank)
    candidates["_order"] = candidates["outcome"].map(order)
    candidates["_position"] = range(len(candidates))
    chosen = (
        candidates.sort_values(["study_id", "_rank", "total", "_order"], ascending=[True, True, False, True], kind="stable")
        .drop_duplicates("study_id", keep="first")
        .sort_values("_position")
    )
    out = chosen.drop(columns=["_order", "_position"]).rename(columns={"_rank": "selected_rank"})
    out.insert(out.columns.get_loc("outcome") + 1, "selected_from", out["outcome"])
    out["outcome"] = outcome_id
    return out.reset_index(drop=True)
