"""What changed between two versions of a review, told in sentences a reader understands.

PRISMA-LSR asks a living review to report, for each version, what triggered it, what changed in
its methods and what changed in the evidence and the conclusions [akl2024]. This module
turns two results payloads (:meth:`analysis.living.review.LivingReview.snapshot_payload`, or the
``results`` of two snapshots) into

* :func:`evidence_log`: one sentence per change to the evidence: studies added, removed or
  re-classified; outcome counts added, removed or corrected (old and new ``events/total`` and the
  new source); risk-of-bias and certainty judgements changed; amendments of the analysis plan;
* :func:`results_moved`: one :class:`MovedResult` per result that moved by more than the
  :class:`Thresholds`, with the estimate before and after in words and why it moved (the studies
  whose counts or status changed);
* :func:`verdict`: one line saying whether any conclusion changed.

The version page of the book and the ``diff`` command (pull-request summary) call the same
functions, so a contributor sees in the pull request the sentences the next version will show.

Nothing here knows a particular review: labels of studies, outcomes and codes travel in the
payload's ``evidence`` section (see :func:`evidence_section`), and a payload without that section
(an older snapshot) is compared on studies and results only, which the log says.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from analysis.evidence.words import lower_first as _lower_first
from analysis.living.alerts import interval_word
from analysis.living.changes import _get  # dotted-path lookup, shared with the tables of changes

__all__ = [
    "NO_CHANGE",
    "MovedResult",
    "Thresholds",
    "evidence_log",
    "evidence_section",
    "results_moved",
    "verdict",
]

#: What a version page says when nothing changed at all.
NO_CHANGE = "No change to the evidence or the results."

Record = Mapping[str, Any]


@dataclass(frozen=True)
class Thresholds:
    """When a result counts as moved, and when a conclusion counts as changed.

    Attributes
    ----------
    estimate : float
        A result moved when its estimate, or a bound of its 95% CI, moved by at least this much
        on the proportion scale (default 0.01: one percentage point), or when its number of
        studies or patients, its display (pooled, single study, side by side) or its certainty
        changed.
    conclusion : float
        A conclusion changed when an outcome's certainty changed, when it gained or lost a pooled
        estimate, or when its estimate moved by at least this much (default 0.10: ten
        percentage points).
    """

    estimate: float = 0.01
    conclusion: float = 0.10

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any] | None) -> Thresholds:
        """Thresholds from a plan section ``{estimate: .., conclusion: ..}`` (missing keys: defaults)."""
        spec = dict(spec or {})
        unknown = sorted(set(spec) - {"estimate", "conclusion"})
        if unknown:
            raise ValueError(f"changes thresholds: unknown key(s) {', '.join(unknown)} (use estimate, conclusion)")
        values = {}
        for key in ("estimate", "conclusion"):
            if key in spec:
                value = spec[key]
                if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
                    raise ValueError(f"changes thresholds: {key} must be a proportion between 0 and 1, got {value!r}")
                values[key] = float(value)
        return cls(**values)

    def describe(self) -> str:
        """The thresholds in a sentence, for the page."""
        return (
            f"A result counts as moved when its estimate or a bound of its 95% confidence interval moved by at "
            f"least {_points(self.estimate)}, or when its number of studies or patients, the way it is shown "
            f"(pooled, single study, side by side) or its certainty changed. A conclusion counts as changed when "
            f"the certainty of an outcome changed, when it gained or lost a pooled estimate, or when its estimate "
            f"moved by at least {_points(self.conclusion)}."
        )


@dataclass(frozen=True)
class MovedResult:
    """A result that moved between two versions.

    Attributes
    ----------
    outcome, subgroup, evidence_set : str
        Which result (``subgroup`` is ``"all"`` for the whole outcome).
    label : str
        The outcome in words.
    before, after : str
        The result in words in each version ("56% (95% CI 30% to 79%); 2 studies, 8 patients").
    why : tuple of str
        The changes to its studies that explain the move ("Li 2023: count corrected").
    certainty : tuple of str or None
        ``(old, new)`` when the certainty changed.
    conclusion_changed : bool
        Whether the move crosses a conclusion threshold (:class:`Thresholds`).
    """

    outcome: str
    subgroup: str
    evidence_set: str
    label: str
    before: str
    after: str
    why: tuple[str, ...] = ()
    certainty: tuple[str, str] | None = None
    conclusion_changed: bool = False
    reasons: tuple[str, ...] = field(default=(), repr=False)

    def sentence(self) -> str:
        """``"Acute GVHD: 56% (...) → 47% (...); why: Li 2023: count corrected."``"""
        text = f"{self.label}: {self.before} → {self.after}"
        if self.certainty:
            text += f"; certainty {self.certainty[0]} → {self.certainty[1]}"
        because = "; ".join(self.why) if self.why else "no count of its studies changed (a change of method)"
        return f"{text}. Why: {because}."


# ------------------------------------------------------------------------------ small helpers


def _points(x: float) -> str:
    value = 100 * x
    shown = f"{value:.0f}" if abs(value - round(value)) < 1e-9 else f"{value:g}"
    return f"{shown} percentage point{'s' if shown != '1' else ''}"


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"



def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or str(value).strip() == ""


def _words(code: Any, labels: Mapping[str, str] | None = None) -> str:
    """A code in words: its label when one is given, else ``a_b`` read as ``a b``."""
    if _blank(code):
        return "not recorded"
    text = str(code)
    if labels and text in labels:
        return str(labels[text])
    return text.replace("_", " ")


def _index(records: Iterable[Record], keys: Sequence[str]) -> dict[tuple, Record]:
    return {tuple(str(r.get(k)) for k in keys): r for r in records}


def _count(record: Record) -> str:
    return f"{_int(record.get('events'))}/{_int(record.get('total'))}"


def _int(value: Any) -> str:
    if _blank(value):
        return "?"
    number = float(value)
    return str(int(number)) if number.is_integer() else f"{number:g}"


def _source(record: Record) -> str:
    source = record.get("source")
    return "" if _blank(source) else f" (source: {' '.join(str(source).split())})"


# ------------------------------------------------------------------------------ the payload's evidence


def evidence_section(
    *,
    counts: Iterable[Record] = (),
    risk_of_bias: Iterable[Record] = (),
    certainty: Iterable[Record] = (),
    amendments: Iterable[Record] = (),
    study_labels: Mapping[str, str] | None = None,
    outcome_labels: Mapping[str, str] | None = None,
    code_labels: Mapping[str, Mapping[str, str]] | None = None,
    field_titles: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The ``evidence`` section of a results payload, which :func:`evidence_log` compares.

    Parameters
    ----------
    counts : records with ``study_id, outcome, events, total`` (and ``source``, ``confidence``)
    risk_of_bias : records with ``study_id, tool, item, judgement``
    certainty : records with ``outcome, domain, rating``
    amendments : records with ``date, section, change`` (and ``after_results_seen``)
    study_labels, outcome_labels : id -> words
    code_labels : field name -> {code: words} (e.g. the data package's ``x-labels``)
    field_titles : field name -> its title (e.g. the data package's field ``title``)
    """
    def keep(records: Iterable[Record], names: Sequence[str]) -> list[dict[str, Any]]:
        return [{n: _plain(r.get(n)) for n in names if n in r} for r in records]

    return {
        "counts": keep(counts, ("study_id", "outcome", "events", "total", "confidence", "source")),
        "risk_of_bias": keep(risk_of_bias, ("study_id", "tool", "item", "judgement")),
        "certainty": keep(certainty, ("outcome", "domain", "rating")),
        "amendments": keep(amendments, ("date", "section", "change", "after_results_seen")),
        "labels": {
            "studies": {str(k): str(v) for k, v in (study_labels or {}).items()},
            "outcomes": {str(k): str(v) for k, v in (outcome_labels or {}).items()},
            "codes": {str(f): {str(k): str(v) for k, v in m.items()} for f, m in (code_labels or {}).items()},
            "fields": {str(k): str(v) for k, v in (field_titles or {}).items()},
        },
    }


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        value = value.item()
    if value is not None and not isinstance(value, bool | int | float | str):
        return None if str(value) in ("<NA>", "NaT", "nan") else str(value)
    return value


@dataclass(frozen=True)
class _Labels:
    studies: Mapping[str, str]
    outcomes: Mapping[str, str]
    codes: Mapping[str, Mapping[str, str]]
    fields: Mapping[str, str] = field(default_factory=dict)

    def study(self, study_id: Any) -> str:
        return str(self.studies.get(str(study_id), study_id))

    def outcome(self, outcome: Any) -> str:
        return str(self.outcomes.get(str(outcome), outcome))

    def code(self, field_name: str, value: Any) -> str:
        return _words(value, self.codes.get(field_name))

    def title(self, field_name: str) -> str:
        """The field's title, first letter lower-cased for the middle of a sentence."""
        return _lower_first(str(self.fields.get(field_name) or _words(field_name)))


def _labels(old: Record, new: Record) -> _Labels:
    merged: dict[str, dict] = {"studies": {}, "outcomes": {}, "codes": {}, "fields": {}}
    for payload in (old, new):
        section = _get(payload, "evidence.labels") or {}
        for key, found in merged.items():
            found.update(section.get(key) or {})
    for payload in (old, new):  # result records carry their outcome's label too
        for record in payload.get("outcomes") or []:
            if record.get("label"):
                merged["outcomes"].setdefault(str(record["outcome"]), str(record["label"]))
    return _Labels(merged["studies"], merged["outcomes"], merged["codes"], merged["fields"])


# ------------------------------------------------------------------------------ evidence log


def evidence_log(old: Record, new: Record, study_key: str = "study_id") -> dict[str, list[str]]:
    """Every change to the evidence between two payloads, one sentence each, by kind.

    Parameters
    ----------
    old, new : mapping
        Results payloads: ``studies`` (records keyed by ``study_key``) and, when recorded, the
        ``evidence`` section of :func:`evidence_section`.
    study_key : str
        Field identifying a study.

    Returns
    -------
    dict
        ``{"Studies": [...], "Outcome counts": [...], "Risk of bias": [...],
        "Certainty of the evidence": [...], "Analysis plan": [...], "Not compared": [...]}``;
        only kinds with at least one sentence are present (an empty dict: nothing changed).
    """
    labels = _labels(old, new)
    log: dict[str, list[str]] = {
        "Studies": _study_sentences(old.get("studies") or [], new.get("studies") or [], study_key, labels),
    }
    recorded = [("evidence" in p) for p in (old, new)]
    if all(recorded):
        log["Outcome counts"] = _count_sentences(old, new, labels)
        log["Risk of bias"] = _rob_sentences(old, new, labels)
        log["Certainty of the evidence"] = _certainty_sentences(old, new, labels)
        log["Analysis plan"] = _amendment_sentences(old, new)
    elif any(recorded):
        log["Not compared"] = [
            ("The earlier version's record does not hold its outcome counts, risk-of-bias and certainty "
             "judgements or plan amendments, so only studies and results are compared.")
        ]
    return {k: v for k, v in log.items() if v}


def _study_sentences(old: Sequence[Record], new: Sequence[Record], key: str, labels: _Labels) -> list[str]:
    before, after = _index(old, (key,)), _index(new, (key,))
    out = []
    for ident, record in after.items():
        name = labels.study(ident[0])
        previous = before.get(ident)
        if previous is None:
            out.append(f"{name}: added ({_study_state(record, labels)}).")
            continue
        changes = []
        for column in ("status", "evidence"):
            a, b = previous.get(column), record.get(column)
            if _differs(a, b):
                changes.append(f"{labels.title(column)} changed from {_lower_first(labels.code(column, a))} to "
                               f"{_lower_first(labels.code(column, b))}")
        if changes and not _blank(record.get("exclusion_reason")) and str(record.get("status")) == "excluded":
            changes[-1] += f" (reason: {' '.join(str(record['exclusion_reason']).split())})"
        others = [c for c in dict.fromkeys([*previous, *record])
                  if c not in (key, "status", "evidence", "exclusion_reason") and _differs(previous.get(c), record.get(c))]
        if others:
            changes.append("details updated (" + ", ".join(labels.title(c) for c in others) + ")")
        if changes:
            out.append(f"{name}: " + "; ".join(changes) + ".")
    for ident, record in before.items():
        if ident not in after:
            out.append(f"{labels.study(ident[0])}: removed from the review (was {_study_state(record, labels)}).")
    return out


def _study_state(record: Record, labels: _Labels) -> str:
    parts = [_lower_first(labels.code("status", record.get("status")))]
    if not _blank(record.get("evidence")):
        parts.append(_lower_first(labels.code("evidence", record.get("evidence"))))
    return "; ".join(parts)


def _differs(a: Any, b: Any) -> bool:
    if _blank(a) and _blank(b):
        return False
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return not math.isclose(float(a), float(b), rel_tol=0, abs_tol=1e-9)
    return str(a) != str(b)


def _count_sentences(old: Record, new: Record, labels: _Labels) -> list[str]:
    keys = ("study_id", "outcome")
    before = _index(_get(old, "evidence.counts") or [], keys)
    after = _index(_get(new, "evidence.counts") or [], keys)
    out = []
    for ident, record in after.items():
        name = f"{labels.study(ident[0])}, {_lower_first(labels.outcome(ident[1]))}"
        previous = before.get(ident)
        if previous is None:
            out.append(f"{name}: new count {_count(record)}{_source(record)}.")
        elif _count(previous) != _count(record):
            out.append(f"{name}: corrected from {_count(previous)} to {_count(record)}{_source(record)}.")
        elif _differs(previous.get("confidence"), record.get("confidence")):
            out.append(f"{name}: {_count(record)} now {_lower_first(labels.code('confidence', record.get('confidence')))} "
                       f"(was {_lower_first(labels.code('confidence', previous.get('confidence')))}){_source(record)}.")
        elif _differs(previous.get("source"), record.get("source")):
            out.append(f"{name}: {_count(record)} unchanged, read from a new source{_source(record)}.")
    for ident, record in before.items():
        if ident not in after:
            out.append(f"{labels.study(ident[0])}, {_lower_first(labels.outcome(ident[1]))}: count removed "
                       f"(was {_count(record)}).")
    return out


def _rob_sentences(old: Record, new: Record, labels: _Labels) -> list[str]:
    keys = ("study_id", "tool", "item")
    before = _index(_get(old, "evidence.risk_of_bias") or [], keys)
    after = _index(_get(new, "evidence.risk_of_bias") or [], keys)
    out = []
    assessed: dict[tuple[str, str], int] = {}
    dropped: dict[tuple[str, str], int] = {}
    for ident, record in after.items():
        previous = before.get(ident)
        if previous is None:
            assessed[ident[:2]] = assessed.get(ident[:2], 0) + 1
        elif _differs(previous.get("judgement"), record.get("judgement")):
            out.append(f"{labels.study(ident[0])}, risk of bias ({labels.code('tool', ident[1])}, item {ident[2]}): "
                       f"judgement changed from {_lower_first(labels.code('judgement', previous.get('judgement')))} to "
                       f"{_lower_first(labels.code('judgement', record.get('judgement')))}.")
    for ident in before:
        if ident not in after:
            dropped[ident[:2]] = dropped.get(ident[:2], 0) + 1
    for (study, tool), n in assessed.items():
        out.append(f"{labels.study(study)}: risk of bias assessed with {labels.code('tool', tool)} "
                   f"({n} new item{'s' if n != 1 else ''}).")
    for (study, tool), n in dropped.items():
        out.append(f"{labels.study(study)}: {n} risk-of-bias item{'s' if n != 1 else ''} of "
                   f"{labels.code('tool', tool)} removed.")
    return out


def _certainty_sentences(old: Record, new: Record, labels: _Labels) -> list[str]:
    keys = ("outcome", "domain")
    before = _index(_get(old, "evidence.certainty") or [], keys)
    after = _index(_get(new, "evidence.certainty") or [], keys)
    out = []
    for ident, record in after.items():
        name = f"{labels.outcome(ident[0])}, {_lower_first(labels.code('domain', ident[1]))}"
        previous = before.get(ident)
        rating = _lower_first(labels.code("rating", record.get("rating")))
        if previous is None:
            out.append(f"{name}: judged {rating}.")
        elif _differs(previous.get("rating"), record.get("rating")):
            out.append(f"{name}: concern changed from {_lower_first(labels.code('rating', previous.get('rating')))} "
                       f"to {rating}.")
    for ident, record in before.items():
        if ident not in after:
            out.append(f"{labels.outcome(ident[0])}, {_lower_first(labels.code('domain', ident[1]))}: judgement removed "
                       f"(was {_lower_first(labels.code('rating', record.get('rating')))}).")
    return out


def _amendment_sentences(old: Record, new: Record) -> list[str]:
    keys = ("date", "section")
    before = _index(_get(old, "evidence.amendments") or [], keys)
    out = []
    for ident, record in _index(_get(new, "evidence.amendments") or [], keys).items():
        if ident in before:
            continue
        seen = record.get("after_results_seen")
        timing = (" Made after results had been seen." if str(seen).lower() in ("true", "yes", "1")
                  else " Made before results were seen." if str(seen).lower() in ("false", "no", "0") else "")
        change = " ".join(str(record.get("change") or "").split())
        out.append(f"Amendment of {ident[0]} to {ident[1]}: {change}{timing}".rstrip())
    return out


# ------------------------------------------------------------------------------ results that moved


def _shown(record: Record | None) -> str:
    """A result in words, with the results pages' rules (a single study is its own proportion)."""
    if record is None:
        return "not in this version"
    k, n = int(record.get("k") or 0), int(record.get("n") or 0)
    size = f"{k} stud{'y' if k == 1 else 'ies'}, {n} patient{'s' if n != 1 else ''}"
    if k == 0:
        return "no study"
    display = record.get("display")
    estimate, lower, upper = (_get(record, f"result.{c}") for c in ("estimate", "ci_lower", "ci_upper"))
    if display == "side_by_side" or estimate is None:
        each = [f"{s.get('label', '')} {_int(s.get('events'))}/{_int(s.get('n'))}".strip()
                for s in record.get("study_results") or []]
        listed = f": {', '.join(each)}" if each else ""
        return f"shown side by side, not pooled ({size}){listed}"
    interval = ("" if lower is None or upper is None
                else f" (95% {interval_word(record)} {_pct(lower)} to {_pct(upper)})")
    kind = "; single study" if display == "single" else ""
    return f"{_pct(estimate)}{interval}{kind}; {size}"


def _numbers(record: Record | None) -> tuple:
    if record is None:
        return (None,) * 4
    return ((record.get("k"), record.get("n"), record.get("events"), record.get("display")),
            *(_get(record, f"result.{c}") for c in ("estimate", "ci_lower", "ci_upper")))


def _moved(before: Record | None, after: Record | None, limit: float) -> bool:
    if (before is None) != (after is None):
        return True
    b, a = _numbers(before), _numbers(after)
    if b[0] != a[0] or str((before or {}).get("certainty")) != str((after or {}).get("certainty")):
        return True
    for x, y in zip(b[1:], a[1:], strict=True):
        if (x is None) != (y is None):
            return True
        if x is not None and abs(float(x) - float(y)) >= limit - 1e-12:
            return True
    return False


def _conclusion(before: Record | None, after: Record | None, certainty: tuple | None, limit: float) -> bool:
    if certainty:
        return True
    pooled = [bool(r and r.get("pooled")) for r in (before, after)]
    if pooled[0] != pooled[1]:
        return True
    x, y = _get(before, "result.estimate"), _get(after, "result.estimate")
    return x is not None and y is not None and abs(float(x) - float(y)) >= limit - 1e-12


def _why(before: Record | None, after: Record | None, reasons: Mapping[str, str], labels: _Labels) -> tuple[str, ...]:
    studies_before = list((before or {}).get("studies") or [])
    studies_after = list((after or {}).get("studies") or [])
    out = []
    for study in dict.fromkeys([*studies_after, *studies_before]):
        if study not in studies_before:
            out.append(f"{labels.study(study)} added")
        elif study not in studies_after:
            out.append(f"{labels.study(study)} no longer counted")
        elif study in reasons:
            out.append(f"{labels.study(study)}: {reasons[study]}")
    return tuple(out)


def _study_reasons(old: Record, new: Record, outcomes: Iterable[str]) -> dict[str, str]:
    """Per study, what changed in its counts of ``outcomes`` (or in its record)."""
    wanted = set(outcomes)
    keys = ("study_id", "outcome")
    before = _index(_get(old, "evidence.counts") or [], keys)
    after = _index(_get(new, "evidence.counts") or [], keys)
    reasons: dict[str, list[str]] = {}
    for ident in dict.fromkeys([*after, *before]):
        if ident[1] not in wanted:
            continue
        a, b = before.get(ident), after.get(ident)
        if a is None or b is None:
            text = "count added" if a is None else "count removed"
        elif _count(a) != _count(b):
            text = f"count corrected from {_count(a)} to {_count(b)}"
        else:
            continue
        reasons.setdefault(ident[0], []).append(text)
    return {k: ", ".join(dict.fromkeys(v)) for k, v in reasons.items()}


def results_moved(
    old: Record,
    new: Record,
    thresholds: Thresholds | None = None,
    evidence_set: str | None = None,
) -> list[MovedResult]:
    """Results (per outcome and subgroup) that moved between two payloads, with why.

    Parameters
    ----------
    old, new : mapping
        Results payloads with ``outcomes`` records (``evidence_set, outcome, subgroup, k, n,
        display, pooled, studies, result.{estimate, ci_lower, ci_upper}``, ``certainty``).
    thresholds : Thresholds, optional
        When a result counts as moved (default :class:`Thresholds`).
    evidence_set : str, optional
        Only this evidence set (default: all).

    Returns
    -------
    list of MovedResult
        In the newer version's order, results no longer present last.
    """
    limits = thresholds or Thresholds()
    labels = _labels(old, new)
    keys = ("evidence_set", "outcome", "subgroup")
    before = _index(old.get("outcomes") or [], keys)
    after = _index(new.get("outcomes") or [], keys)
    out = []
    for ident in dict.fromkeys([*after, *before]):
        if evidence_set is not None and ident[0] != evidence_set:
            continue
        a, b = before.get(ident), after.get(ident)
        if not _moved(a, b, limits.estimate):
            continue
        outcomes = {ident[1], *((a or {}).get("selected_from") or []), *((b or {}).get("selected_from") or [])}
        reasons = _study_reasons(old, new, outcomes)
        for study in {*((a or {}).get("studies") or []), *((b or {}).get("studies") or [])}:
            state = _study_change(old, new, study, labels)
            if state:
                reasons[study] = f"{reasons[study]}; {state}" if study in reasons else state
        certainty = None
        ca, cb = (a or {}).get("certainty"), (b or {}).get("certainty")
        if a is not None and b is not None and (ca or cb) and str(ca) != str(cb):
            certainty = (_words(ca), _words(cb))
        out.append(MovedResult(
            outcome=ident[1], subgroup=ident[2], evidence_set=ident[0], label=labels.outcome(ident[1]),
            before=_shown(a), after=_shown(b), why=_why(a, b, reasons, labels), certainty=certainty,
            conclusion_changed=_conclusion(a, b, certainty, limits.conclusion),
        ))
    return out


def _study_change(old: Record, new: Record, study: str, labels: _Labels) -> str:
    by_id = {str(r.get("study_id")): r for r in old.get("studies") or []}
    now = {str(r.get("study_id")): r for r in new.get("studies") or []}
    a, b = by_id.get(str(study)), now.get(str(study))
    if a is None or b is None:
        return ""
    changed = [c for c in dict.fromkeys([*a, *b]) if c != "study_id" and _differs(a.get(c), b.get(c))]
    return "study details updated (" + ", ".join(labels.title(c) for c in changed) + ")" if changed else ""


def subgroup_words(subgroup: str, codes: Mapping[str, Mapping[str, str]] | None = None,
                   titles: Mapping[str, str] | None = None) -> str:
    """``"scb_source=allogeneic"`` in words: ``"Source of the boost: allogeneic"`` with the column's
    title in ``titles`` and the level's label in ``codes``; ``"scb source: allogeneic"`` without."""
    if subgroup == "all":
        return "all studies"
    column, _, level = subgroup.partition("=")
    name = (titles or {}).get(column) or _words(column)
    return f"{name}: {_lower_first(_words(level, (codes or {}).get(column)))}"


def verdict(moved: Sequence[MovedResult]) -> str:
    """One line: did any conclusion change?"""
    changed = [m for m in moved if m.conclusion_changed and m.subgroup == "all"]
    if not moved:
        return "No result moved, so no conclusion changed."
    if not changed:
        return "Results moved, but no conclusion changed (no certainty changed, none gained or lost a pooled estimate, none moved past the conclusion threshold)."
    names = ", ".join(dict.fromkeys(m.label for m in changed))
    return f"Conclusions to re-read: {names}."
