"""A node's ``round:`` as part of the method, and a node's value on its own scale.

Without a scale of its own a node's score ``s`` (out of its effective maximum ``M`` in the parent)
is rounded: ``s' = round(s)``. With ``scale: S`` the rounding applies to the value as reported,
on the node's scale: ``v = s / M × S``, ``v' = round(v)``, and the parent aggregates
``s' = v' × M / S`` (each operation one IEEE double operation, in that order). Reported on the
scale, ``s'`` is shown as ``v'`` itself: every rounding mode returns ``v' = fl(k / 10^d)`` for a
whole ``k`` (one IEEE division), and ``t = s' / M × S`` lies within a few ulps of ``v'``, so
``k = round(t × 10^d)`` (nearest whole number, far from any half) and ``fl(k / 10^d)`` is ``v'``
again, bit for bit, whatever ``round:``'s mode (a floor of ``t`` could fall one step short).
"""

from __future__ import annotations

import polars as pl

from govindex.eval.exact import div
from govindex.eval.rounding import round_expr
from govindex.ir import Node


def rounded_score(node: Node, s: pl.Expr) -> pl.Expr:
    """The score node's parent aggregates: ``s`` rounded by the node's ``round:`` (on its scale
    when it has one); ``s`` unchanged without ``round:``."""
    r = node.round
    if r is None:
        return s
    if node.own_scale is None:
        return round_expr(s, r.digits, r.mode)
    v = round_expr(div(s, node.max) * node.own_scale, r.digits, r.mode)
    return div(v * node.max, node.own_scale)


def on_scale_expr(node: Node, s: pl.Expr) -> pl.Expr:
    """Score ``s`` of ``node`` as every output shows it: on its scale (``s / M × S``); ``s``
    itself without a declared scale; the rounded value ``v'`` exactly for a node rounded on its
    scale (see the module docstring)."""
    if node.own_scale is None:
        return s
    r = node.round
    if r is None and not node.is_point:  # an indicator's value is its rate × scale (docs §5)
        return pl.col(f"r:{node.id}") * node.own_scale
    v = div(s, node.max) * node.own_scale
    if r is None:
        return v
    p = float(10**r.digits)
    return div((v * p).round(0), p)
