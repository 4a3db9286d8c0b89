"""Missing data by reason, in the tree: what a parent does with a child that has no score, why a
node is null or left out (``why:<node>``), gates, and the weighted average ``wavg``.

A point without a rate has a reason — its status: ``no_data``, ``not_applicable`` or ``error``
— and a policy per reason (:meth:`govindex.ir.Node.policy`): ``zero`` (it scores 0 and counts),
``exclude`` (left out: the parent renormalises over the others) or ``null`` (the parent is null).
An indicator with a null score has one policy, its ``missing:``. A child with ``weight: 0`` is
computed and shown but takes no part in its parent: not in its sums, not in its nulls.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable
from functools import reduce
from typing import Any

import polars as pl

from govindex import ir
from govindex.eval.compile import Plan
from govindex.eval.exact import div
from govindex.eval.node_rates import child_rate
from govindex.ir import Node, RuleSet

OK, NO_DATA, NOT_APPLICABLE, ERROR = "ok", "no_data", "not_applicable", "error"
_DONE = {"zero": "scored 0", "exclude": "excluded", "null": "null"}


def _score(node: str) -> pl.Expr:
    return pl.col(f"s:{node}")


def _status(point: str) -> pl.Expr:
    return pl.col(f"st:{point}")


def declared_status(plan: Plan, point: str, col: str) -> pl.Expr:
    """A point's status with its declared conditions: ``error`` where its ``error:`` holds or the
    facts say so already, else ``not_applicable`` where its ``not_applicable:`` holds, else as
    found (a null condition holds nowhere). Error first, as Lighthouse marks an audit that threw
    an error whether or not it applied."""
    st = pl.col(col)
    err = plan.errors[point].fill_null(False) if point in plan.errors else pl.lit(False)
    na = plan.not_applicable[point].fill_null(False) if point in plan.not_applicable else pl.lit(False)
    return pl.when(err | (st == ERROR)).then(pl.lit(ERROR)).when(na).then(pl.lit(NOT_APPLICABLE)) \
        .otherwise(st).alias(col)


def policy_expr(k: Node) -> pl.Expr:
    """The policy that applies to ``k`` in this unit: by its status for a point (and for a ref to a
    point, by the target's status: the ref carries the target's ``missing_by``), its own for an
    indicator."""
    if not k.missing_by:
        return pl.lit(k.missing)
    return _status(k.ref or k.id).replace_strict(dict(k.missing_by), default=k.missing, return_dtype=pl.String)


def point_score(p: Node, s: pl.Expr) -> pl.Expr:
    """A point's score with its policy applied: 0 where the policy for its reason is ``zero``
    (its status still says why)."""
    if not p.missing_by:
        return s.fill_null(0.0) if p.missing == "zero" else s
    if all(pol != "zero" for _, pol in p.missing_by):
        return s
    return pl.when(s.is_null() & (policy_expr(p) == "zero")).then(0.0).otherwise(s)


def counted(rs: RuleSet, node: Node) -> list[Node]:
    """The children that take part in ``node``'s score: all but those of weight 0."""
    return [k for k in (rs.nodes[c] for c in node.children) if k.weight != 0]


def presence(kids: list[Node], scores: list[pl.Expr]) -> tuple[pl.Expr, list[pl.Expr]]:
    """(whether a child's null makes the parent null, each child's presence): a child with no
    score is null-making under the ``null`` policy and present (as 0) under ``zero``."""
    hits, present = [], []
    for s, k in zip(scores, kids):
        pol = policy_expr(k)
        hits.append(s.is_null() & (pol == "null"))
        present.append(s.is_not_null() | (pol == "zero"))
    return pl.any_horizontal(hits or [pl.lit(False)]), present


def _sum_in_order(terms: list[pl.Expr]) -> pl.Expr:
    return reduce(operator.add, terms) if terms else pl.lit(0.0)


def wavg(rs: RuleSet, kids: list[Node], present: list[pl.Expr]) -> pl.Expr:
    """The rate of ``wavg``: Σ rate·weight / Σ weight over the children present, each sum folded
    left in declared order (as Lighthouse's ``reduce``), weights defaulting to 1, each child's rate
    as :func:`govindex.eval.node_rates.child_rate` reads it; the node's score is that rate × max
    (× 1 changes nothing). No child present (all left out, or every weight 0) is 0, as
    Lighthouse's ``ReportScoring.arithmeticMean`` (``Σ/Σ || 0``)."""
    weights = [1.0 if k.weight is None else k.weight for k in kids]
    num = _sum_in_order([pl.when(p).then(child_rate(rs, k).fill_null(0.0) * w).otherwise(0.0)
                         for p, k, w in zip(present, kids, weights)])
    den = _sum_in_order([pl.when(p).then(pl.lit(w)).otherwise(0.0) for p, w in zip(present, weights)])
    val = div(num, den)  # one IEEE division: a divisor equal on every row is a scalar to polars (reciprocal)
    return pl.when(den > 0).then(val).otherwise(0.0)


# ------------------------------------------------------------------ gates


def _gate_op(op: str) -> Callable[[pl.Expr, pl.Expr], pl.Expr]:
    table: dict[str, Callable[[Any, Any], Any]] = {
        "+": operator.add, "-": operator.sub, "*": operator.mul, "/": div, "==": operator.eq,
        "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
        "and": operator.and_, "or": operator.or_}
    return table[op]


def gate_condition(rs: RuleSet, e: ir.Expr) -> pl.Expr:
    """A gate's condition over the children's rates (a null child makes a comparison null)."""
    if isinstance(e, ir.NodeRef):
        return div(_score(e.node), rs.nodes[e.node].max)
    if isinstance(e, ir.Const):
        return pl.lit(e.value)
    if isinstance(e, ir.Op) and e.op == "not":
        return ~gate_condition(rs, e.args[0])
    if isinstance(e, ir.Op) and e.op == "neg":
        return -gate_condition(rs, e.args[0])
    if isinstance(e, ir.Op):
        return _gate_op(e.op)(gate_condition(rs, e.args[0]), gate_condition(rs, e.args[1]))
    if isinstance(e, ir.Cond):
        return (pl.when(gate_condition(rs, e.cond)).then(gate_condition(rs, e.then))
                .otherwise(gate_condition(rs, e.else_)))
    raise TypeError(f"no gate translation for {type(e).__name__}")  # the checker lowers nothing else


def gated(rs: RuleSet, node: Node, value: pl.Expr) -> pl.Expr:
    """``value`` unless the node's gate holds (true, not null): then 0 or null, as the gate says;
    a node whose own policy is ``zero`` shows 0 for null as before."""
    if node.gate is None:
        return value
    out = pl.when(gate_condition(rs, node.gate.when).fill_null(False)).then(
        pl.lit(0.0 if node.gate.score == "zero" else None, pl.Float64)).otherwise(value)
    return out.fill_null(0.0) if node.missing == "zero" else out


# ------------------------------------------------------------------ why:<node>


def why_columns(rs: RuleSet) -> list[pl.Expr]:
    """``why:<node>``: a short text when a node is gated, null, or lost children; null otherwise."""
    out = [_why_point(p).alias(f"why:{p.id}") for p in rs.points]
    out += [_why_indicator(rs, x).alias(f"why:{x.id}") for x in rs.nodes.values() if not x.is_point and not x.is_ref]
    out += [_why_ref(rs, x).alias(f"why:{x.id}") for x in rs.nodes.values() if x.is_ref]
    return out


def _why_ref(rs: RuleSet, x: Node) -> pl.Expr:
    """A ref's why is its target's, with the policy the ref follows in its own parent (the same
    as the target's) and its own weight."""
    target = rs.nodes[x.ref or ""]
    if not target.is_point:
        return _why_indicator(rs, target)
    return _why_point(dataclasses.replace(target, weight=x.weight), x)


def _why_point(p: Node, via: Node | None = None) -> pl.Expr:
    st = _status(p.id)
    done = policy_expr(via or p).replace_strict(_DONE, default=None, return_dtype=pl.String)
    text = pl.concat_str([st, pl.lit(" → "), done])
    if p.weight == 0:
        text = pl.concat_str([text, pl.lit(" (weight 0)")])
    return pl.when(st != OK).then(text)


def _why_indicator(rs: RuleSet, x: Node) -> pl.Expr:
    kids = counted(rs, x)
    out = pl.lit(None, pl.String)
    lost = [pl.when(_score(k.id).is_null() & (policy_expr(k) == "exclude")).then(pl.lit(k.id)) for k in kids]
    if lost:
        out = pl.concat_str(lost, separator=", ", ignore_nulls=True)
        out = pl.when(out != "").then(pl.concat_str([pl.lit("excluded: "), out]))
    nulls = [pl.when(_score(k.id).is_null() & (policy_expr(k) == "null")).then(pl.lit(k.id)) for k in kids]
    if nulls:
        first = pl.coalesce(nulls)
        out = pl.when(first.is_not_null()).then(pl.concat_str([pl.lit("null: "), first, pl.lit(" is null")])) \
            .otherwise(out)
    if x.aggregate == "wavg":
        none_left = ~pl.any_horizontal(presence(kids, [_score(k.id) for k in kids])[1] or [pl.lit(False)])
        out = pl.when(none_left).then(pl.concat_str([out.fill_null("no child with a weight above 0"),
                                                      pl.lit(" → 0 (wavg: no child present, as Lighthouse)")]))\
            .otherwise(out)
    elif not kids:
        out = pl.lit("no child with a weight above 0")
    if x.gate is not None:
        out = pl.when(gate_condition(rs, x.gate.when).fill_null(False)).then(pl.lit(x.gate.reason)).otherwise(out)
    return out
