"""Gradings of any node, by thresholds, difference trend or conditions over several measures.

A grading grades one node (``node:``, the total by default) on its value as every output shows
it — on its scale — either ``unrounded`` (as computed, after any ``round:`` of the method) or
``reported`` (rounded by the rule set's ``rounding``, as written). A unit whose graded value is
null gets no grade.

``method: conditions``: class conditions are evaluated per unit in three-valued logic (a
comparison with a null is null; ``and`` is false when a side is false, ``or`` true when a side is
true, null otherwise); a unit takes the first class, best first, whose condition is true; the last
class takes the rest when it has no condition of its own, otherwise a unit that meets none gets no
grade. A statistic across units (:class:`govindex.ir.UnitStat`) is one number over the units whose
measure is not null and for which ``where:`` is true: ``quantile`` as R's ``quantile()``
(:func:`govindex.eval.stats.quantile`), ``median`` as R's ``median()`` and ``mean`` the double
nearest the exact mean (:func:`govindex.eval.stats.median`, :func:`~govindex.eval.stats.mean`),
``min``, ``max``, ``count``. Over no unit a statistic is null. A division by zero is null.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl

from govindex.eval.node_values import val_col
from govindex.eval.rounding import round_expr
from govindex.eval.stats import mean as units_mean
from govindex.eval.stats import median as units_median
from govindex.eval.stats import quantile
from govindex.grade import Graded, grade, summarise
from govindex.ir import ROOT, Column, Const, Expr, Grading, Op, RuleSet, UnitStat

Value = float | str | bool | None


def grade_col(node: str) -> str:
    return f"g:{node}"


def gradings(rs: RuleSet) -> list[Grading]:
    """Every grading of the rule set, the total's first."""
    return ([rs.grading] if rs.grading is not None else []) + list(rs.node_gradings)


def node_values(rs: RuleSet, units: pl.DataFrame, node: str, value: str) -> list[float | None]:
    """The values of ``node`` per row of ``units`` as a grading sees them: on the node's scale,
    rounded by ``rounding:`` when ``value`` is ``reported``."""
    e = pl.col(val_col(node))  # computed once by the evaluator (eval/node_values.py)
    if value == "reported":
        e = round_expr(e, rs.rounding.digits, rs.rounding.mode)
    return units.select(e.alias("v"))["v"].to_list()


def grade_node(rs: RuleSet, g: Grading, units: pl.DataFrame) -> Graded:
    """Grade every unit (row of ``units``) by ``g``."""
    codes = units["code"].to_list()
    values = dict(zip(codes, node_values(rs, units, g.node, g.value)))
    if g.method != "conditions":
        return grade(g, values)
    env: dict[str, list[Value]] = {a: units[a].to_list() for a in rs.unit_attrs}
    for name, node in g.measures:
        env[name] = list(node_values(rs, units, node, g.value))
    assign = assign_classes(g, env, len(codes))
    return summarise(g, values, {c: k for c, k, v in zip(codes, assign, values.values())
                                 if k is not None and v is not None})


def assign_classes(g: Grading, env: dict[str, list[Value]], n_units: int) -> list[str | None]:
    """The class of each unit (by index) under ``g``'s conditions, None when it meets none."""
    stats: dict[Expr, float | None] = {}
    conds = dict(g.conditions)
    out: list[str | None] = []
    for i in range(n_units):
        got = None
        for cid, _ in g.classes:
            cond = conds.get(cid)
            if cond is None or _eval(cond, i, env, stats, n_units) is True:
                got = cid
                break
        out.append(got)
    return out


_ARITH: dict[str, Callable[[float, float], float]] = {"+": operator.add, "-": operator.sub, "*": operator.mul}
_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _eval(e: Expr, i: int, env: dict[str, list[Value]], stats: dict[Expr, float | None], n_units: int) -> Value:
    if isinstance(e, Const):
        return e.value  # type: ignore[return-value]  # conditions hold numbers, strings, true/false
    if isinstance(e, Column):
        return env[e.name][i]
    if isinstance(e, UnitStat):
        if e not in stats:
            stats[e] = _stat(e, env, stats, n_units)
        return stats[e]
    assert isinstance(e, Op)
    if e.op in ("and", "or"):
        a, b = (_eval(x, i, env, stats, n_units) for x in e.args)
        stop = e.op == "or"  # the value that decides alone
        return stop if stop in (a, b) else None if None in (a, b) else not stop
    args = [_eval(x, i, env, stats, n_units) for x in e.args]
    if any(a is None for a in args):
        return None
    if e.op == "not":
        return not args[0]
    if e.op == "neg":
        return -args[0]  # type: ignore[operator]
    a, b = args
    if e.op in _CMP:
        return _CMP[e.op](a, b)
    if e.op == "/":
        return None if b == 0 else a / b  # type: ignore[operator]
    return _ARITH[e.op](a, b)  # type: ignore[arg-type]


def _stat(e: UnitStat, env: dict[str, list[Value]], stats: dict[Expr, float | None], n_units: int) -> float | None:
    xs: list[float] = []
    for i in range(n_units):
        v = _eval(e.arg, i, env, stats, n_units)
        if v is not None and (e.where is None or _eval(e.where, i, env, stats, n_units) is True):
            xs.append(float(v))
    if e.fn == "count":
        return float(len(xs))
    if not xs:
        return None
    if e.fn == "quantile":
        return quantile(np.array(xs), e.p, e.qtype)
    if e.fn in ("median", "mean"):  # the definitions of govindex.eval.stats, as everywhere else
        return units_median(np.array(xs)) if e.fn == "median" else units_mean(np.array(xs))
    return min(xs) if e.fn == "min" else max(xs)


def with_grades(rs: RuleSet, units: pl.DataFrame) -> tuple[pl.DataFrame, Graded | None, dict[str, Graded]]:
    """``units`` with the grades: the total's in ``grade``/``sublevel``, another node's class in
    ``g:<node>``; the total's :class:`Graded` and the others' by node."""
    total, others = None, {}
    cols = []
    for g in gradings(rs):
        graded = grade_node(rs, g, units)
        code = pl.col("code")
        if g.node == ROOT:
            total = graded
            cols += [code.replace_strict(graded.grade, default=None, return_dtype=pl.String).alias("grade"),
                     code.replace_strict(graded.sublevel, default=None, return_dtype=pl.String).alias("sublevel")]
        else:
            others[g.node] = graded
            cols.append(code.replace_strict(graded.grade, default=None, return_dtype=pl.String).alias(grade_col(g.node)))
    return (units.with_columns(cols) if cols else units), total, others
