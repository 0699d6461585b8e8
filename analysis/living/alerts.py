"""Whether the answer changed between two versions, by decision rules the plan wrote down before use.

A living review republished for every new study tells its readers that a version exists; what a guideline panel
needs to know is whether the *answer* changed. Cochrane republishes a living review when its findings or their
certainty change [cochranehandbook2024]; this module makes that judgement mechanical. The plan's section
``alerts`` names the evidence set compared (results for all studies, not subgroups) and the rules::

    alerts:
      evidence_set: review
      rules:
        - {id: primary_certainty, when: certainty_changes, outcomes: primary}
        - {id: primary_lower_bound, when: lower_bound_crosses, outcomes: primary, threshold: 0.50}
        - {id: estimate_moves, when: estimate_moves, outcomes: all, points: 0.10}
        - {id: pooled_gained_or_lost, when: pooled_changes, outcomes: all}

``when`` is one of:

* ``certainty_changes``: the certainty recorded for an outcome differs between the versions;
* ``lower_bound_crosses``: the lower bound of an outcome's confidence interval lies below ``threshold`` in one
  version and at or above it in the other (the interval shown: pooled, or a single study's exact interval);
* ``estimate_moves``: a pooled estimate (pooled in both versions) moves by ``points`` or more, on the
  proportion scale;
* ``pooled_changes``: an outcome is pooled in one version only (gained or lost a pooled estimate).

``outcomes`` is ``primary`` (the outcome whose ``role`` is primary) or ``all``. :func:`evaluate` compares two
results payloads (:meth:`analysis.living.review.LivingReview.snapshot_payload`, the ``results`` of snapshots)
and returns an :class:`Answer`: which rules fired, a headline ("The answer changed" / "No change to the
answer") and one sentence of what moved. A release records its answer in its snapshot (``answer``), computed
with the plan in force when it was released.

Nothing here knows a clinical topic: outcome ids, labels and roles travel in the payload.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["KINDS", "Alert", "AlertRules", "Answer", "Rule", "evaluate", "interval_word"]

#: The kinds of rule (``when``), with what each needs besides ``id`` and ``outcomes``.
KINDS: dict[str, tuple[str, ...]] = {
    "certainty_changes": (),
    "lower_bound_crosses": ("threshold",),
    "estimate_moves": ("points",),
    "pooled_changes": (),
}
_SCOPES = ("primary", "all")

CHANGED = "The answer changed"
UNCHANGED = "No change to the answer"
FIRST = "First version"

Record = Mapping[str, Any]


def _pct(x: float) -> str:
    return f"{100 * float(x):.0f}%"


def _points(x: float) -> str:
    value = round(100 * float(x), 6)
    return f"{value:g} percentage point{'s' if value != 1 else ''}"


@dataclass(frozen=True)
class Rule:
    """One decision rule of the plan (see the module docstring)."""

    id: str
    when: str
    outcomes: str = "all"
    threshold: float | None = None
    points: float | None = None

    @classmethod
    def from_dict(cls, raw: Any, where: str) -> Rule:
        """A rule from its plan entry; a clear error names the entry and the problem."""
        if not isinstance(raw, Mapping) or not raw.get("id") or not raw.get("when"):
            raise ValueError(f"{where}: each rule needs an id and a when")
        when, scope = str(raw["when"]), str(raw.get("outcomes", "all"))
        if when not in KINDS:
            raise ValueError(f"{where} ({raw['id']}): when {when!r} is not one of {', '.join(KINDS)}")
        if scope not in _SCOPES:
            raise ValueError(f"{where} ({raw['id']}): outcomes {scope!r} is not one of {', '.join(_SCOPES)}")
        allowed = {"id", "when", "outcomes", *KINDS[when]}
        unknown = sorted(set(raw) - allowed)
        if unknown:
            raise ValueError(f"{where} ({raw['id']}): unknown key(s) {', '.join(unknown)} for a {when} rule")
        values = {}
        for key in KINDS[when]:
            value = raw.get(key)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
                raise ValueError(f"{where} ({raw['id']}): {key} must be a proportion between 0 and 1, got {value!r}")
            values[key] = float(value)
        return cls(id=str(raw["id"]), when=when, outcomes=scope, **values)

    def describe(self) -> str:
        """The rule in words, for the page."""
        whose = "the primary outcome" if self.outcomes == "primary" else "an outcome"
        if self.when == "certainty_changes":
            return f"the certainty of the evidence on {whose} changes"
        if self.when == "lower_bound_crosses":
            return f"the lower bound of the 95% confidence interval of {whose} crosses {_pct(self.threshold or 0)}"
        if self.when == "estimate_moves":
            what = "the pooled estimate of the primary outcome" if self.outcomes == "primary" else "a pooled estimate"
            return f"{what} moves by {_points(self.points or 0)} or more"
        return f"{whose} gains or loses a pooled estimate"

    def to_dict(self) -> dict[str, Any]:
        """The rule as its plan entry."""
        out: dict[str, Any] = {"id": self.id, "when": self.when, "outcomes": self.outcomes}
        out.update({k: getattr(self, k) for k in KINDS[self.when]})
        return out


@dataclass(frozen=True)
class AlertRules:
    """The plan's ``alerts`` section: the evidence set compared and the rules."""

    evidence_set: str
    rules: tuple[Rule, ...]

    @classmethod
    def from_plan(cls, raw: Mapping[str, Any] | None) -> AlertRules | None:
        """Read ``raw["alerts"]`` of a parsed plan (None when the plan has no such section)."""
        section = (raw or {}).get("alerts")
        if section is None:
            return None
        if not isinstance(section, Mapping):
            raise ValueError("analysis plan: alerts must be a mapping with evidence_set and rules")  # noqa: TRY004
        unknown = sorted(set(section) - {"evidence_set", "rules"})
        if unknown:
            raise ValueError(f"analysis plan: alerts: unknown key(s) {', '.join(unknown)}")
        rules = tuple(Rule.from_dict(r, f"analysis plan: alerts.rules[{i}]")
                      for i, r in enumerate(section.get("rules") or []))
        ids = [r.id for r in rules]
        if len(set(ids)) < len(ids):
            raise ValueError(f"analysis plan: alerts.rules: ids repeat ({', '.join(ids)})")
        if not rules:
            raise ValueError("analysis plan: alerts.rules is empty; write at least one rule or leave the section out")
        return cls(evidence_set=str(section.get("evidence_set", "review")), rules=rules)

    def describe(self) -> str:
        """The rules in one sentence."""
        parts = [r.describe() for r in self.rules]
        listed = parts[0] if len(parts) == 1 else "; ".join(parts[:-1]) + "; or " + parts[-1]
        return f"The answer counts as changed when {listed} (plan section alerts)."


@dataclass(frozen=True)
class Alert:
    """A rule that fired for one outcome, with what moved in words."""

    rule: str
    outcome: str
    sentence: str


@dataclass(frozen=True)
class Answer:
    """Whether the answer changed between a version and the one before it.

    ``previous`` is None for a first version; ``rules`` empty when the plan has none (then nothing can fire
    and :attr:`changed` is None, said in :meth:`headline`).
    """

    previous: str | None
    rules: tuple[Rule, ...]
    alerts: tuple[Alert, ...] = ()
    primary_move: str = ""

    @property
    def changed(self) -> bool | None:
        """True when a rule fired, False when none did, None without an earlier version or without rules."""
        if self.previous is None or not self.rules:
            return None
        return bool(self.alerts)

    @property
    def fired(self) -> tuple[str, ...]:
        """Ids of the rules that fired, in the plan's order."""
        return tuple(r.id for r in self.rules if any(a.rule == r.id for a in self.alerts))

    def headline(self) -> str:
        """"The answer changed", "No change to the answer", or why neither can be said."""
        if self.previous is None:
            return FIRST
        if not self.rules:
            return "No decision rules in the plan"
        return CHANGED if self.alerts else UNCHANGED

    def sentence(self) -> str:
        """The headline with what moved, in one sentence."""
        if self.previous is None:
            return f"{FIRST}: there is no earlier release to compare the answer with."
        if not self.rules:
            return (f"No decision rules in the plan, so whether the answer changed since {self.previous} is not "
                    "judged.")
        if self.alerts:
            return f"{CHANGED} since {self.previous}: " + "; ".join(a.sentence for a in self.alerts) + "."
        moved = f" {self.primary_move}." if self.primary_move else ""
        return f"{UNCHANGED} since {self.previous} (no decision rule of the plan fired).{moved}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record, as a snapshot keeps it (``answer``)."""
        return {
            "previous": self.previous, "changed": self.changed, "headline": self.headline(),
            "sentence": self.sentence(), "fired": list(self.fired),
            "alerts": [{"rule": a.rule, "outcome": a.outcome, "sentence": a.sentence} for a in self.alerts],
            "rules": [r.to_dict() for r in self.rules],
        }


# ------------------------------------------------------------------------------------------ evaluation


def _get(record: Record | None, path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _records(payload: Record, evidence_set: str) -> dict[str, Record]:
    return {str(r.get("outcome")): r for r in payload.get("outcomes") or []
            if r.get("evidence_set") == evidence_set and r.get("subgroup", "all") == "all"}


def _primary(*tables: Mapping[str, Record]) -> str | None:
    for table in tables:
        for outcome, record in table.items():
            if record.get("role") == "primary":
                return outcome
    return None


def _label(outcome: str, *records: Record | None) -> str:
    for record in records:
        if record and record.get("label"):
            return str(record["label"])
    return outcome


def interval_word(record: Record | None) -> str:
    """``"CrI"`` when a snapshot record's interval is a Bayesian credible interval (``result.ci`` is
    ``"credible"``), else ``"CI"``."""
    return "CrI" if _get(record, "result.ci") == "credible" else "CI"


def _shown(record: Record | None) -> str:
    """An outcome's result in a few words ("88% (95% CI 52% to 98%)", "not pooled")."""
    if record is None:
        return "not reported"
    estimate, lower, upper = (_get(record, f"result.{c}") for c in ("estimate", "ci_lower", "ci_upper"))
    if estimate is None or record.get("display") == "side_by_side":
        return "not pooled"
    word = interval_word(record)
    text = _pct(estimate) + ("" if lower is None or upper is None else f" (95% {word} {_pct(lower)} to {_pct(upper)})")
    return text + ("" if record.get("pooled") else ", a single study")


def _fires(rule: Rule, outcome: str, old: Record | None, new: Record | None) -> str | None:
    """The sentence of what moved when ``rule`` fires for ``outcome``, else None."""
    label = _label(outcome, new, old)
    if rule.when == "certainty_changes":
        a, b = _get(old, "certainty"), _get(new, "certainty")
        if old is not None and new is not None and a and b and str(a) != str(b):
            return f"the certainty of the evidence on {label[0].lower() + label[1:]} changed from {a} to {b}"
        return None
    if rule.when == "lower_bound_crosses":
        a, b, t = _get(old, "result.ci_lower"), _get(new, "result.ci_lower"), rule.threshold or 0.0
        if a is not None and b is not None and (float(a) < t) != (float(b) < t):
            way = "fell below" if float(b) < t else "rose to or above"
            return (f"the lower bound of the 95% {interval_word(new)} of {label[0].lower() + label[1:]} {way} {_pct(t)} "
                    f"({_pct(a)} → {_pct(b)})")
        return None
    if rule.when == "estimate_moves":
        if not (_get(old, "pooled") and _get(new, "pooled")):
            return None
        a, b = _get(old, "result.estimate"), _get(new, "result.estimate")
        if a is not None and b is not None and abs(float(b) - float(a)) >= (rule.points or 0) - 1e-12:
            return (f"the pooled estimate of {label[0].lower() + label[1:]} moved by "
                    f"{_points(abs(float(b) - float(a)))}, from {_shown(old)} to {_shown(new)}")
        return None
    before, after = bool(_get(old, "pooled")), bool(_get(new, "pooled"))
    if before == after:
        return None
    if after:
        return f"{label} gained a pooled estimate: {_shown(old)} before, {_shown(new)} now"
    return f"{label} lost its pooled estimate: {_shown(old)} before, {_shown(new)} now"


def evaluate(rules: AlertRules | None, old: Record | None, new: Record, previous: str | None) -> Answer:
    """Which of the plan's rules fire between two results payloads.

    Parameters
    ----------
    rules : the plan's alerts (None: no rules; nothing is judged).
    old : the earlier version's results payload (None for a first version).
    new : this version's results payload.
    previous : the earlier version's name (None for a first version).
    """
    if old is None or previous is None:
        return Answer(previous=None, rules=rules.rules if rules else ())
    if rules is None:
        return Answer(previous=previous, rules=())
    before, after = _records(old, rules.evidence_set), _records(new, rules.evidence_set)
    primary = _primary(after, before)
    outcomes = list(dict.fromkeys([*after, *before]))
    alerts = []
    for rule in rules.rules:
        scope = [primary] if rule.outcomes == "primary" and primary else ([] if rule.outcomes == "primary" else outcomes)
        for outcome in scope:
            sentence = _fires(rule, outcome, before.get(outcome), after.get(outcome))
            if sentence:
                alerts.append(Alert(rule.id, outcome, sentence))
    move = ""
    if primary:
        a, b = _shown(before.get(primary)), _shown(after.get(primary))
        label = _label(primary, after.get(primary), before.get(primary))
        move = f"{label}: {a}" + ("" if a == b else f" → {b}")
    return Answer(previous=previous, rules=rules.rules, alerts=tuple(alerts), primary_move=move)
