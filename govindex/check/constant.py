"""Constant expressions in settings: ``weight: 1/3``, ``max: 100/3``, ``max_total: 2*50``.

A setting that takes an amount accepts any arithmetic (``+ - * /``, unary minus, parentheses)
over number literals and over ``let``\\ s bound to such expressions. The checker evaluates each
once, in Python floats, in the order written (left operand first, as the tree is parsed: ``1/3*3``
is ``(1/3)*3``); the bounds of :func:`govindex.check.settings.amount_problem` apply to the result.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass

from govindex.lang import nodes as n

_OPS: dict[str, Callable[[float, float], float]] = {"+": operator.add, "-": operator.sub, "*": operator.mul,
                                                   "/": operator.truediv}
_MAX_DEPTH = 200  # deeper than anyone writes a constant; beyond it Python's recursion is at risk


@dataclass(frozen=True, slots=True)
class Constant:
    """The value of a constant expression, or why it has none (``value`` is None then)."""

    value: float | None
    problem: str = ""
    span: n.Span = n.NOWHERE  # where the problem is
    lets: frozenset[str] = frozenset()  # the lets it reads


def constant(e: n.Expr, lets: dict[str, n.Expr]) -> Constant:
    """Evaluate ``e`` as a constant number expression over ``lets``."""
    used: set[str] = set()
    try:
        v = _eval(e, lets, used, (), 0)
    except _NotConstant as exc:
        return Constant(None, exc.problem, exc.span, frozenset(used))
    return Constant(v, "", e.span, frozenset(used))


class _NotConstant(Exception):
    def __init__(self, problem: str, span: n.Span):
        super().__init__(problem)
        self.problem, self.span = problem, span


def _eval(e: n.Expr, lets: dict[str, n.Expr], used: set[str], chain: tuple[str, ...], depth: int) -> float:
    if depth > _MAX_DEPTH:
        raise _NotConstant(f"nested more than {_MAX_DEPTH} levels deep", e.span)
    if isinstance(e, n.Number):
        return e.value
    if isinstance(e, n.Unary) and e.op == "-":
        return -_eval(e.operand, lets, used, chain, depth + 1)
    if isinstance(e, n.Binary) and e.op in _OPS:
        a = _eval(e.left, lets, used, chain, depth + 1)
        b = _eval(e.right, lets, used, chain, depth + 1)
        if e.op == "/" and b == 0:
            raise _NotConstant("divides by zero", e.span)
        return _OPS[e.op](a, b)
    if isinstance(e, n.Name) and e.id in lets:
        if e.id in chain:
            raise _NotConstant(f"`let {e.id}` refers to itself: {' → '.join((*chain, e.id))}", e.span)
        used.add(e.id)
        return _eval(lets[e.id], lets, used, (*chain, e.id), depth + 1)
    what = f"`{e.id}` is not a let" if isinstance(e, n.Name) else "it is not arithmetic over numbers"
    raise _NotConstant(what, e.span)
