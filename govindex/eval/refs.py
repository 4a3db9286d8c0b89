"""The order the indicator tree is computed in, and the score of a reference.

**Order.** A node is computed from columns already there: an indicator from its children, a
ref from its target. Nodes are computed in batches by *height* — points 0, a ref one above its
target, an indicator one above its highest child — so every batch reads only earlier ones. (By
level, as before refs, a ref's target could sit at the same level or above and not exist yet.)
Without refs the batches hold the same expressions as by level, in a different grouping only:
the values are the same bit for bit.

**A ref's score** (``ref target { weight: w }`` under a parent, where its weight gives it the
maximum ``M``): the target's rate × ``M``, where the rate is

- for a point: its formula rate ``r`` (rounds combined), so the ref is ``r × M``, exactly as a
  point with maximum ``M`` would score (then rounded at points when the rule set rounds there);
- for an indicator: its score ``s`` as its own parent aggregates it (rounded by its ``round:``
  when it has one) times the ratio of the maxima, ``s × (M ÷ m)`` where ``m`` is the target's
  maximum: the ratio is computed once, in double precision, then one multiplication per unit
  (the same maximum in both places gives the score itself, bit for bit). Not ``(s ÷ m) × M``:
  polars divides a column by a constant as a multiplication by its reciprocal, which is not the
  correctly rounded quotient (1.666666666666667 / 4.166666666666667 gives 0.4000000000000001).

A target without a score leaves the ref without one, and the ref then follows the target's
missing-data policy in its second parent (``zero``: 0; ``exclude``: left out, the parent
renormalised; ``null``: the parent is null). A ref's own ``round:`` rounds its contribution.
"""

from __future__ import annotations

import polars as pl

from govindex.eval.missing import point_score
from govindex.eval.rounding import round_expr
from govindex.ir import ROOT, Node, RuleSet


def tree_order(rs: RuleSet) -> list[list[Node]]:
    """The indicators and refs in batches of equal height, lowest first (see the module docstring).
    Without a total (``total: none``) the root is not computed."""
    height: dict[str, int] = {}

    def h(ident: str) -> int:
        if ident not in height:
            x = rs.nodes[ident]
            height[ident] = (0 if x.is_point else 1 + h(x.ref) if x.ref is not None
                             else 1 + max((h(c) for c in x.children), default=0))
        return height[ident]

    nodes = [x for x in rs.nodes.values() if not x.is_point and (rs.has_total or x.id != ROOT)]
    batches: dict[int, list[Node]] = {}
    for x in nodes:
        batches.setdefault(h(x.id), []).append(x)
    return [batches[k] for k in sorted(batches)]


def ref_score(rs: RuleSet, ref: Node, score: pl.Expr, rate: pl.Expr) -> pl.Expr:
    """The score ``ref`` contributes to its parent, before its own ``round:``; ``score`` and
    ``rate`` are the target's score and (for a point) formula-rate columns."""
    assert ref.ref is not None
    target = rs.nodes[ref.ref]
    if target.is_point:
        s = rate * ref.max
        if rs.rounding.at == "points":
            s = round_expr(s, rs.rounding.digits, rs.rounding.mode)
    else:
        s = score * (ref.max / target.max)
    return point_score(ref, s)  # the target's policy, per reason for a point (read from its status)
