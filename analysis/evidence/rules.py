"""The conditions and checks a data package descriptor writes as text, evaluated by ``simpleeval``.

A descriptor states conditions and rules as text, for example ``"events <= total"``,
``"total <= studies.n_boosted"`` or ``"confidence in ['verified_fulltext', 'derived']"``.
They are evaluated by :mod:`simpleeval` (a library made for safe evaluation of such
expressions, installed with frictionless); this module only says which names they read and
what a missing value means. Accepted: comparisons, ``and``/``or``/``not``, arithmetic,
lists, and the functions ``sum``, ``len``, ``abs``, ``min`` and ``max`` (checked when the
descriptor is read, so that a typo is a descriptor error with its line).

Vocabulary
----------
name
    A bare identifier (``events``): a field of the current record.
reference
    ``table.column`` (``studies.n_boosted``): a field of the record of another table that
    the rule joins to; or, when ``table`` is a list-valued field of the current record
    (YAML records), the list of ``column`` values of its items.
unknown
    A condition or check that reads a missing value (``None``, or a list holding one) is
    ``UNKNOWN``: not applicable to that record, neither true nor false.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from analysis.evidence.extras import require

__all__ = ["FUNCTIONS", "UNKNOWN", "Expression", "ExpressionError", "evaluate_on", "parse_expression"]


class _Unknown:
    """The third truth value (an expression reading a missing value); one instance."""

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        raise TypeError("UNKNOWN has no truth value; test `is UNKNOWN` first")


#: Returned when a missing value makes an expression undecidable.
UNKNOWN: Any = _Unknown()

#: The functions an expression may call.
FUNCTIONS: dict[str, Callable[..., Any]] = {"sum": sum, "len": len, "abs": abs, "min": min, "max": max}

#: Resolves a bare name (``events``) to a value of the current record.
NameResolver = Callable[[str], Any]
#: Resolves ``base.attr`` (``studies.n_boosted``) to a value.
ReferenceResolver = Callable[[str, str], Any]

_ALLOWED = (
    ast.Expression, ast.Compare, ast.BoolOp, ast.UnaryOp, ast.BinOp, ast.Name, ast.Load,
    ast.Attribute, ast.Constant, ast.List, ast.Tuple, ast.Call, ast.And, ast.Or, ast.Not,
    ast.USub, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq,
    ast.NotEq, ast.In, ast.NotIn,
)  # fmt: skip


class ExpressionError(ValueError):
    """Raised when a rule's text is not an expression rules may use."""


@dataclass(frozen=True)
class Expression:
    """A parsed rule expression.

    Attributes
    ----------
    text : str
        The expression as written in the descriptor.
    names : tuple of str
        Bare names used, in order of first appearance.
    references : tuple of (str, str)
        ``(base, attr)`` pairs used, in order of first appearance.
    """

    text: str
    names: tuple[str, ...]
    references: tuple[tuple[str, str], ...]

    def evaluate(self, name: NameResolver, reference: ReferenceResolver | None = None) -> Any:
        """Evaluate against one record (``UNKNOWN`` when a value it reads is missing).

        Parameters
        ----------
        name : callable
            ``name(identifier) -> value``; ``None`` means missing.
        reference : callable, optional
            ``reference(base, attr) -> value`` for ``base.attr`` references.
        """
        values: dict[str, Any] = {n: name(n) for n in self.names}
        for base, attr in self.references:
            if reference is None:
                raise ExpressionError(f"reference {base}.{attr} cannot be resolved here")
            values.setdefault(base, {})[attr] = reference(base, attr)
        if any(_missing(v) for v in values.values()):
            return UNKNOWN
        simpleeval = require("simpleeval", "evidence", who="evaluating the descriptor's rules")
        try:
            return simpleeval.EvalWithCompoundTypes(functions=dict(FUNCTIONS), names=values).eval(self.text)
        except (TypeError, ArithmeticError):
            return UNKNOWN  # values of the wrong kind for the check: their own error is reported


def _missing(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(_missing(v) for v in value.values())
    if isinstance(value, list):
        return any(v is None for v in value)
    return value is None


def parse_expression(text: str) -> Expression:
    """Parse an expression and check that it uses only what rules may use.

    Raises
    ------
    ExpressionError
        If the text does not parse or uses another construct (subscripts, lambdas,
        attributes of attributes, other functions).
    """
    text = str(text).strip()
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"cannot parse rule {text!r}: {exc.msg}") from None
    names: list[str] = []
    references: list[tuple[str, str]] = []
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    bases = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ExpressionError(f"rule {text!r} uses {type(node).__name__}, which rules do not allow")
        if isinstance(node, ast.Attribute):
            if not isinstance(node.value, ast.Name):
                raise ExpressionError(f"rule {text!r}: only table.column references are allowed")
            if (node.value.id, node.attr) not in references:
                references.append((node.value.id, node.attr))
        if isinstance(node, ast.Call) and (
            not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS
            or len(node.args) != 1 or node.keywords
        ):
            raise ExpressionError(
                f"rule {text!r}: only the functions {', '.join(FUNCTIONS)} are allowed, "
                "with one argument"
            )
        if isinstance(node, ast.Name) and id(node) not in called | bases and node.id not in names:
            names.append(node.id)
    return Expression(text, tuple(names), tuple(references))


def evaluate_on(expression: Expression, record: Mapping[str, Any]) -> Any:
    """Evaluate an expression on a plain mapping (names, and list-valued references).

    Parameters
    ----------
    expression : Expression
    record : mapping
        Field name to value.
    """

    def reference(base: str, attr: str) -> Any:
        items = record.get(base)
        if not isinstance(items, list):
            return None
        return [item.get(attr) if isinstance(item, Mapping) else None for item in items]

    return expression.evaluate(record.get, reference)
