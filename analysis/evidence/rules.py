"""Small, safe expressions for the cross-field rules of a data package descriptor.

A descriptor states rules as text, for example ``"events <= total"``,
``"total <= studies.n_boosted"`` or ``"confidence in ['verified_fulltext', 'derived']"``.
This module parses such text with :mod:`ast`, accepts only a whitelist of node types (no
function calls except a few aggregates, no attribute access beyond ``table.column``, no
subscripts, no lambdas), and evaluates it against one record at a time.

Vocabulary
----------
name
    A bare identifier (``events``): a field of the current record.
reference
    ``table.column`` (``studies.n_boosted``): a field of the record of another table that
    the rule joins to; or, when ``table`` is a list-valued field of the current record
    (YAML records), the list of ``column`` values of its items.
unknown
    The result of any operation involving a missing value (``None``). Logic is
    three-valued, as in SQL: ``unknown and False`` is ``False``; ``unknown or True`` is
    ``True``. A rule whose check is unknown is not applicable to that record.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["UNKNOWN", "Expression", "ExpressionError", "parse_expression"]


class _Unknown:
    """The third truth value (a comparison involving a missing value); one instance."""

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        raise TypeError("UNKNOWN has no truth value; test `is UNKNOWN` first")


#: The third truth value returned when a missing value makes an expression undecidable.
UNKNOWN: Any = _Unknown()


class ExpressionError(ValueError):
    """Raised when a rule's text is not a valid expression of the rule language."""


_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_ARITHMETIC: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_FUNCTIONS: dict[str, Callable[[Any], Any]] = {
    "sum": sum,
    "len": len,
    "abs": abs,
    "min": min,
    "max": max,
}

#: Resolves a bare name (``events``) to a value of the current record.
NameResolver = Callable[[str], Any]
#: Resolves ``base.attr`` (``studies.n_boosted``) to a value.
ReferenceResolver = Callable[[str, str], Any]


def _missing(value: Any) -> bool:
    return value is None or value is UNKNOWN


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
    tree: ast.Expression
    names: tuple[str, ...]
    references: tuple[tuple[str, str], ...]

    def evaluate(self, name: NameResolver, reference: ReferenceResolver | None = None) -> Any:
        """Evaluate against one record.

        Parameters
        ----------
        name : callable
            ``name(identifier) -> value``; ``None`` means missing.
        reference : callable, optional
            ``reference(base, attr) -> value`` for ``base.attr`` references.

        Returns
        -------
        object
            The value; ``UNKNOWN`` when a missing value makes it undecidable.
        """
        return _Evaluator(name, reference).visit(self.tree.body)


def parse_expression(text: str) -> Expression:
    """Parse and whitelist-check a rule expression.

    Parameters
    ----------
    text : str
        For example ``"total <= studies.n_boosted"``.

    Returns
    -------
    Expression

    Raises
    ------
    ExpressionError
        If the text does not parse or uses a construct outside the rule language.
    """
    try:
        tree = ast.parse(str(text).strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"cannot parse rule {text!r}: {exc.msg}") from None
    names: list[str] = []
    references: list[tuple[str, str]] = []
    for node in ast.walk(tree):
        _check_node(node, text)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            pair = (node.value.id, node.attr)
            if pair not in references:
                references.append(pair)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Name)
            and node.id not in names
            and not _is_reference_base(tree, node)
            and not _is_function_name(tree, node)
        ):
            names.append(node.id)
    return Expression(str(text), tree, tuple(names), tuple(references))


_ALLOWED = (
    ast.Expression,
    ast.Compare,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.BinOp,
    ast.Name,
    ast.Load,
    ast.Attribute,
    ast.Constant,
    ast.List,
    ast.Tuple,
    ast.Call,
    *_COMPARE,
    *_ARITHMETIC,
)


def _check_node(node: ast.AST, text: str) -> None:
    if not isinstance(node, _ALLOWED):
        raise ExpressionError(f"rule {text!r} uses {type(node).__name__}, which rules do not allow")
    if isinstance(node, ast.Attribute) and not isinstance(node.value, ast.Name):
        raise ExpressionError(f"rule {text!r}: only table.column references are allowed")
    if isinstance(node, ast.Call):
        if not (isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS):
            raise ExpressionError(
                f"rule {text!r}: only the functions {', '.join(_FUNCTIONS)} are allowed"
            )
        if len(node.args) != 1 or node.keywords:
            raise ExpressionError(f"rule {text!r}: functions take exactly one argument")


def _is_reference_base(tree: ast.AST, name: ast.Name) -> bool:
    return any(isinstance(n, ast.Attribute) and n.value is name for n in ast.walk(tree))


def _is_function_name(tree: ast.AST, name: ast.Name) -> bool:
    return any(isinstance(n, ast.Call) and n.func is name for n in ast.walk(tree))


class _Evaluator:
    def __init__(self, name: NameResolver, reference: ReferenceResolver | None) -> None:
        self._name = name
        self._reference = reference

    def visit(self, node: ast.AST) -> Any:
        method = getattr(self, f"_visit_{type(node).__name__.lower()}")
        return method(node)

    def _visit_constant(self, node: ast.Constant) -> Any:
        return node.value

    def _visit_name(self, node: ast.Name) -> Any:
        value = self._name(node.id)
        return UNKNOWN if value is None else value

    def _visit_attribute(self, node: ast.Attribute) -> Any:
        base = node.value.id  # type: ignore[attr-defined]
        if self._reference is None:
            raise ExpressionError(f"reference {base}.{node.attr} cannot be resolved here")
        value = self._reference(base, node.attr)
        return UNKNOWN if value is None else value

    def _visit_list(self, node: ast.List) -> Any:
        return [self.visit(e) for e in node.elts]

    _visit_tuple = _visit_list

    def _visit_call(self, node: ast.Call) -> Any:
        value = self.visit(node.args[0])
        if _missing(value) or any(_missing(v) for v in value):
            return UNKNOWN
        return _FUNCTIONS[node.func.id](value)  # type: ignore[attr-defined]

    def _visit_unaryop(self, node: ast.UnaryOp) -> Any:
        value = self.visit(node.operand)
        if _missing(value):
            return UNKNOWN
        return (not value) if isinstance(node.op, ast.Not) else -value

    def _visit_binop(self, node: ast.BinOp) -> Any:
        left, right = self.visit(node.left), self.visit(node.right)
        if _missing(left) or _missing(right):
            return UNKNOWN
        return _ARITHMETIC[type(node.op)](left, right)

    def _visit_compare(self, node: ast.Compare) -> Any:
        left = self.visit(node.left)
        outcome: Any = True
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.visit(right_node)
            if _missing(left) or _missing(right):
                outcome = UNKNOWN
            elif not _COMPARE[type(op)](left, right):
                return False
            left = right
        return outcome

    def _visit_boolop(self, node: ast.BoolOp) -> Any:
        stop = isinstance(node.op, ast.Or)  # value that decides the result on its own
        seen_unknown = False
        for value_node in node.values:
            value = self.visit(value_node)
            if _missing(value):
                seen_unknown = True
            elif bool(value) is stop:
                return stop
        return UNKNOWN if seen_unknown else (not stop)


def evaluate_on(expression: Expression, record: Mapping[str, Any]) -> Any:
    """Evaluate an expression on a plain mapping (names only, list-valued references).

    Parameters
    ----------
    expression : Expression
    record : mapping
        Field name to value.

    Returns
    -------
    object
    """

    def reference(base: str, attr: str) -> Any:
        items = record.get(base)
        if not isinstance(items, list):
            return None
        return [item.get(attr) if isinstance(item, Mapping) else None for item in items]

    return expression.evaluate(record.get, reference)
