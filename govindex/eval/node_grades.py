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

Named gradings (``grading groups "…"``) are read by others: ``within: groups`` grades each class
of ``groups`` apart (statistics over the unit's class); ``by:`` on a statistic groups it by a
registry column or a grading; ``groups`` in a condition is the unit's class. Gradings run in an
order where each follows those it reads (:attr:`govindex.ir.Grading.needs`).
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
from govindex.grade import Break, Graded, grade, summarise
from govindex.ir import ROOT, Column, Const, Expr, Grading, Op, RuleSet, UnitStat

Value = float | str | bool | None


def grade_col(node: str, gid: str | None = None) -> str:
    """The units-frame column of a node's grade: ``g:<node>`` for its first grading,
    ``g:<node>:<id>`` for a further, named one."""
    return f"g:{node}" if gid is None else f"g:{node}:{gid}"


def named_gradings(rs: RuleSet) -> list[Grading]:
    """The gradings with an id, each shown as ``g:<node>:<id>`` (a node's first too, which is
    also in ``grade`` or ``g:<node>``), the total's first, then as declared."""
    every = [*([rs.grading] if rs.grading is not None else []), *rs.node_gradings, *rs.named_gradings]
    return [g for g in every if g.id is not None]


def gradings(rs: RuleSet) -> list[Grading]:
    """Every grading of the rule set, each after the gradings it reads (``within:``, ``by:``, a
    class in a condition); otherwise the total's first, then the other nodes', then the named."""
    todo, done, out = [*([rs.grading] if rs.grading is not None else []), *rs.node_gradings, *rs.named_gradings], set(), []
    while todo:  # check has ruled out cycles (E283)
        g = next((g for g in todo if all(x in done for x in g.needs)), todo[0])
        todo.remove(g)
        out.append(g)
        done |= {g.id} if g.id is not None else set()
    return out


def node_values(rs: RuleSet, units: pl.DataFrame, node: str, value: str) -> list[float | None]:
    """The values of ``node`` per row of ``units`` as a grading sees them: on the node's scale,
    rounded by ``rounding:`` when ``value`` is ``reported``."""
    e = pl.col(val_col(node))  # computed once by the evaluator (eval/node_values.py)
    if value == "reported":
        e = round_expr(e, rs.rounding.digits, rs.rounding.mode)
    return units.select(e.alias("v"))["v"].to_list()


def grade_node(rs: RuleSet, g: Grading, units: pl.DataFrame,
               classes: dict[str, list[str | None]] | None = None) -> Graded:
    """Grade every unit (row of ``units``) by ``g``; ``classes``: the class of each unit under the
    named gradings already graded (by id), which ``within:``, ``by:`` and conditions read."""
    classes = classes or {}
    codes = units["code"].to_list()
    values = dict(zip(codes, node_values(rs, units, g.node, g.value)))
    within = classes[g.within] if g.within is not None else None
    if g.method != "conditions":
        if within is None:
            return grade(g, values)
        return _grade_within(g, values, dict(zip(codes, within)))
    env: dict[str, list[Value]] = {a: units[a].to_list() for a in rs.unit_attrs}
    env |= {gid: list(cs) for gid, cs in classes.items()}
    for name, node in g.measures:
        env[name] = list(node_values(rs, units, node, g.value))
    assign = assign_classes(g, env, len(codes), within)
    return summarise(g, values, {c: k for c, k, v in zip(codes, assign, values.values())
                                 if k is not None and v is not None})


def _grade_within(g: Grading, values: dict[str, float | None], outer: dict[str, str | None]) -> Graded:
    """Thresholds or difference trend applied to the units of each class of the outer grading
    apart (a unit without an outer class gets no grade); the breaks of all groups together."""
    assign: dict[str, str] = {}
    breaks: list[Break] = []
    for cls in dict.fromkeys(c for c in outer.values() if c is not None):
        part = grade(g, {c: v for c, v in values.items() if outer[c] == cls})
        assign |= part.grade
        breaks += part.breaks
    return summarise(g, values, assign, tuple(breaks))


def assign_classes(g: Grading, env: dict[str, list[Value]], n_units: int,
                   within: list[str | None] | None = None) -> list[str | None]:
    """The class of each unit (by index) under ``g``'s conditions, None when it meets none. With
    ``within`` (the unit's class under the outer grading) every statistic is over the units of
    the unit's outer class, and a unit without one gets no class."""
    cx = _Ctx(env, n_units, within)
    conds = dict(g.conditions)
    out: list[str | None] = []
    for i in range(n_units):
        got = None
        if within is None or within[i] is not None:
            for cid, _ in g.classes:
                cond = conds.get(cid)
                if cond is None or _eval(cond, i, cx) is True:
                    got = cid
                    break
        out.append(got)
    return out


class _Ctx:
    """What evaluating conditions needs: the values by name, the outer classes, the statistics
    computed so far (per statistic and group of units)."""

    def __init__(self, env: dict[str, list[Value]], n_units: int, within: list[str | None] | None):
        self.env, self.n, self.within = env, n_units, within
        self.stats: dict[tuple[Expr, Value, Value], float | None] = {}

    def group(self, e: UnitStat, i: int) -> tuple[Value, Value]:
        """Unit ``i``'s group for ``e``: its outer class (``within:``) and its value of ``by:``."""
        return (self.within[i] if self.within is not None else None,
                self.env[e.by][i] if e.by is not None else None)


_ARITH: dict[str, Callable[[float, float], float]] = {"+": operator.add, "-": operator.sub, "*": operator.mul}
_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _eval(e: Expr, i: int, cx: _Ctx) -> Value:
    if isinstance(e, Const):
        return e.value  # type: ignore[return-value]  # conditions hold numbers, strings, true/false
    if isinstance(e, Column):
        return cx.env[e.name][i]
    if isinstance(e, UnitStat):
        grp = cx.group(e, i)
        if e.by is not None and grp[1] is None:
            return None  # no group: no statistic
        key = (e, *grp)
        if key not in cx.stats:
            cx.stats[key] = _stat(e, i, cx)
        return cx.stats[key]
    assert isinstance(e, Op)
    if e.op in ("and", "or"):
        a, b = (_eval(x, i, cx) for x in e.args)
        stop = e.op == "or"  # the value that decides alone
        return stop if stop in (a, b) else None if None in (a, b) else not stop
    args = [_eval(x, i, cx) for x in e.args]
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


def _stat(e: UnitStat, at: int, cx: _Ctx) -> float | None:
    """``e`` over the units of unit ``at``'s group whose argument is not null and ``where:`` true."""
    grp = cx.group(e, at)
    xs: list[float] = []
    for i in range(cx.n):
        if cx.group(e, i) != grp:
            continue
        v = _eval(e.arg, i, cx)
        if v is not None and (e.where is None or _eval(e.where, i, cx) is True):
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


def with_grades(rs: RuleSet, units: pl.DataFrame) -> tuple[pl.DataFrame, Graded | None, dict[str, Graded],
                                                            dict[str, Graded]]:
    """``units`` with the grades: the total's first grading in ``grade``/``sublevel``, another
    node's first in ``g:<node>``, every named one (first or further) in ``g:<node>:<id>``; the
    total's :class:`Graded`, the other nodes' first by node, the named ones by id."""
    total, others, named = None, {}, {}
    classes: dict[str, list[str | None]] = {}
    cols = []
    further = {id(g) for g in rs.named_gradings}
    code = pl.col("code")
    for g in gradings(rs):
        graded = grade_node(rs, g, units, classes)
        if g.id is not None:
            classes[g.id] = [graded.grade.get(c) for c in units["code"].to_list()]
        grades = code.replace_strict(graded.grade, default=None, return_dtype=pl.String)
        if g.id is not None:
            named[g.id] = graded
            cols.append(grades.alias(grade_col(g.node, g.id)))
        if id(g) in further:
            continue
        if g.node == ROOT:
            total = graded
            cols += [grades.alias("grade"),
                     code.replace_strict(graded.sublevel, default=None, return_dtype=pl.String).alias("sublevel")]
        else:
            others[g.node] = graded
            cols.append(grades.alias(grade_col(g.node)))
    return (units.with_columns(cols) if cols else units), total, others, named
