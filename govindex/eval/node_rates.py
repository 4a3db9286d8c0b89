"""A node's rate, carried exactly, and the means defined on rates (docs §5 "Means on rates").

Every node has a **rate** ``r:<node>`` in [0, 1] (a point's is its formula rate; an indicator's
and a ref's are defined here); its score is ``rate × max`` and its value on its scale
``rate × scale`` — one product each, so on a scale of 1 the value *is* the rate, whatever the
node's maximum (1/3, 100/6 …).

The rate a parent reads from a child (:func:`child_rate`):

- a point: its formula rate ``r:<point>`` (a point scored 0 by its ``zero`` policy reads 0);
- an indicator or a ref: its ``r:<node>`` column;
- a node rounded by ``round:`` (or a point under ``rounding: {at: "points"}``): its rounded
  value over its scale, ``v′ / S`` (one IEEE division; without a declared scale ``S`` is the
  maximum and ``v′`` the rounded score).

The means on rates, over the children present (those left out by ``exclude`` are not terms;
weight 0 takes no part), with ``wᵢ`` the child's ``weight`` (default 1):

- ``mean`` / ``wmean``: ``r = exactsum(wᵢ·rᵢ) / exactsum(wᵢ)`` — each product one rounding, each
  sum exact (:func:`govindex.eval.exact.fsum_rows`), one division. When every counted child has
  the same weight the weights are all taken as 1: ``r = exactsum(rᵢ) / n`` (no product at all),
  the published "mean of the pillars".
- ``geomean_product``: the published product-and-root. Equal weights:
  ``r = (r₁ · r₂ · … · rₙ)^(1/n)``, the product folded left to right in declared order, the
  exponent ``1/n`` one division; otherwise ``r = r₁^(w₁/W) · r₂^(w₂/W) · …`` (``W = Σ wᵢ``
  present, exact), folded in declared order.
"""

from __future__ import annotations

import operator
from functools import reduce

import polars as pl

from govindex.eval.exact import div
from govindex.eval.exact_sums import sum_col
from govindex.eval.node_rounding import on_scale_expr
from govindex.eval.stage_values import averages_values
from govindex.ir import Node, RuleSet, keeps_value

RATE_MEANS = ("mean", "wmean")


def rate_col(node: str) -> str:
    return f"r:{node}"


def child_rate(rs: RuleSet, k: Node) -> pl.Expr:
    """The rate ``k``'s parent reads (see the module docstring)."""
    s = pl.col(f"s:{k.id}")
    if keeps_value(k):  # a value kept between stages (a z-score): its score is the value (§9b)
        return s
    if k.round is not None:
        return div(on_scale_expr(k, s), k.scale)
    if k.is_point and rs.rounding.at == "points":
        return div(s, k.max)
    if k.is_point:  # a point scored 0 by policy has no rate: it reads 0
        return pl.when(s.is_not_null()).then(pl.col(rate_col(k.id)).fill_null(0.0))
    return pl.col(rate_col(k.id))


def weights(kids: list[Node]) -> list[float]:
    """The children's weights as the means use them: all 1 when they are all equal."""
    w = [1.0 if k.weight is None else k.weight for k in kids]
    return [1.0] * len(w) if len(set(w)) <= 1 else w


def mean_terms(rs: RuleSet, node: Node, kids: list[Node], present: list[pl.Expr]) -> dict[str, list[pl.Expr]]:
    """The exact sums of ``mean``/``wmean`` (``num`` = Σ wᵢ·rᵢ, ``den`` = Σ wᵢ present) and of
    ``geomean_product`` (``den`` only: the weight present, for the exponents)."""
    ws = weights(kids)
    out = {sum_col(node.id, "den"): [pl.when(p).then(pl.lit(w)).otherwise(0.0) for p, w in zip(present, ws)]}
    if node.aggregate in RATE_MEANS:
        out[sum_col(node.id, "num")] = [
            pl.when(p).then(child_rate(rs, k).fill_null(0.0) * w if w != 1.0 else child_rate(rs, k).fill_null(0.0))
            .otherwise(0.0) for p, k, w in zip(present, kids, ws)]
    return out


def mean_rate(node: Node) -> pl.Expr:
    """``exactsum(wᵢ·rᵢ) / exactsum(wᵢ)``: both sums are columns, so one true IEEE division."""
    return pl.col(sum_col(node.id, "num")) / pl.col(sum_col(node.id, "den"))


def product_rate(rs: RuleSet, node: Node, kids: list[Node], present: list[pl.Expr]) -> pl.Expr:
    """``geomean_product`` (see the module docstring); a child not present is a factor 1."""
    ws = weights(kids)
    den = pl.col(sum_col(node.id, "den"))
    rates = [child_rate(rs, k).fill_null(0.0) for k in kids]
    if all(w == 1.0 for w in ws):
        prod = reduce(operator.mul, [pl.when(p).then(r).otherwise(1.0) for p, r in zip(present, rates)])
        return prod.pow(1.0 / den)  # 1.0 / den: a literal over a column, one true division
    factors = [pl.when(p).then(r.pow(w / den)).otherwise(1.0) for p, r, w in zip(present, rates, ws)]
    return reduce(operator.mul, factors)


def node_rate(rs: RuleSet, x: Node, raw: pl.Expr | None) -> pl.Expr:
    """``r:<x>`` once ``s:<x>`` is final: ``raw`` (the aggregate's own rate, nulls and gates applied)
    when the score is ``raw × max`` untouched; a ref (without ``round:``) its target's rate as the
    target's parent reads it; else from the score: ``s / max``, or ``v′ / S`` when rounded."""
    s = pl.col(f"s:{x.id}")
    if x.round is None and averages_values(rs, x):  # the normalise: rates, written by the stage
        return pl.col(rate_col(x.id))
    if x.round is None and x.stages is None and raw is not None:
        return raw
    if x.round is None and x.ref is not None and not (rs.nodes[x.ref].is_point and rs.rounding.at == "points"):
        return pl.when(s.is_not_null()).then(child_rate(rs, rs.nodes[x.ref]).fill_null(0.0))
    return div(s, x.max) if x.round is None else div(on_scale_expr(x, s), x.scale)
