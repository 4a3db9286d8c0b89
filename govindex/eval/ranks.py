"""Ranks across units: the ``rank`` of the total, and ``k:<node>`` / ``kl:<node>`` of every ranked node.

Higher is better. Two values tie when they are equal **after rounding to N significant digits**
(``digits:``, 12 by default): the *tie key* of ``v`` is ``repr(v)`` rounded half-even, in decimal,
to ``d = clamp(N − 1 − e, 0, 22)`` decimals, where ``e`` is the position of the leading digit of
``repr(|v|)`` (``10^e ≤ |v| < 10^(e+1)``); the key is the double nearest to that decimal. So the
totals 67.3076923076923 and 67.30769230769232 (both 875/13, computed along different sums) have
the key 67.3076923077 and tie. Values of 10^N and more are compared to the unit (``d = 0``),
values below 10^(N−23) to 22 decimals. The key is exact (no binary tolerance) as the decimal
rounding modes of :mod:`govindex.eval.rounding` are, while ``|v|·10^d < 10^14`` (N ≤ 14).

Tie methods, as R's ``rank(-key, ties.method = …)`` within each group (``by:``, a registry
column; a unit without a value for it is in the group of those without one): ``min`` (the
default: tied units all get the best of their positions), ``max`` (the worst), ``average`` (the
mean), ``dense`` (1, 2, 2, 3: no gaps), ``ordinal`` (every unit its own rank, tied units in
registry order — R's ``"first"``). A unit without a value (null) has no rank. The label
``kl:<node>`` is the rank as published: ``=3`` for each unit sharing rank 3 with another, ``3``
otherwise (``2.5`` for an average).
"""

from __future__ import annotations

import polars as pl

from govindex.eval.exact_sums import exact_div
from govindex.eval.rounding import round_expr
from govindex.ir import ROOT, Node, Ranking, RuleSet

DEFAULT_DIGITS = 12
MAX_DECIMALS = 22  # 10^22 is the largest power of ten a double holds exactly
_EXP = range(-323, 308)
_POW10 = {k: (float(10**k) if k >= 0 else 1 / 10**-k) for k in _EXP}  # the nearest double to 10^k


def rank_col(node: str) -> str:
    return f"k:{node}"


def label_col(node: str) -> str:
    return f"kl:{node}"


def on_scale(x: Node) -> pl.Expr:
    """Node ``x``'s score on its scale: score / max × scale (one IEEE division, then a product);
    without a declared scale, the score column itself."""
    s = pl.col(f"s:{x.id}")
    return s if x.own_scale is None else exact_div(s, x.max) * x.own_scale


def reported(rs: RuleSet, x: Node) -> pl.Expr:
    """The value every output shows for ``x``: on its scale, rounded by the rule set's ``rounding``."""
    return round_expr(on_scale(x), rs.rounding.digits, rs.rounding.mode)


def _pow10(k: pl.Expr) -> pl.Expr:
    return k.replace_strict(_POW10, default=None, return_dtype=pl.Float64)


def tie_key(v: pl.Expr, digits: int = DEFAULT_DIGITS) -> pl.Expr:
    """``v`` rounded half-even to ``digits`` significant digits of ``repr(v)`` (see the module docstring)."""
    a = v.abs()
    e0 = a.log10().floor().clip(_EXP.start + 1, _EXP.stop - 2).cast(pl.Int64)
    # log10 may be off by one next to a power of ten: compare with the powers themselves.
    e = pl.when(a < _pow10(e0)).then(e0 - 1).when(a >= _pow10(e0 + 1)).then(e0 + 1).otherwise(e0)
    p = _pow10((digits - 1 - e).clip(0, MAX_DECIMALS))
    f = (a * p).floor()
    lo, hi = (2.0 * f - 1.0) / (2.0 * p), (2.0 * f + 1.0) / (2.0 * p)  # midpoints, one IEEE division each

    def even(k: pl.Expr) -> pl.Expr:
        return pl.when(k % 2.0 == 0.0).then(k).otherwise(k + 1.0)

    k = (pl.when(a < lo).then(f - 1.0).when(a == lo).then(even(f - 1.0))
         .when(a < hi).then(f).when(a == hi).then(even(f)).otherwise(f + 1.0))
    mag = k / p
    key = pl.when(v < 0.0).then(-mag).otherwise(mag)
    return pl.when(v.is_null() | (v == 0.0)).then(v * 0.0).when(~v.is_finite()).then(v).otherwise(key)


def rank_expr(value: pl.Expr, ranking: Ranking) -> pl.Expr:
    """The rank of each unit's ``value`` (higher is better) by ``ranking``; null for a null value."""
    r = tie_key(value, ranking.digits).rank(ranking.ties, descending=True)
    r = r.cast(pl.Float64) if ranking.ties == "average" else r.cast(pl.Int64)
    return r.over(ranking.by) if ranking.by is not None else r


def label_expr(rank: str, by: str | None) -> pl.Expr:
    """``=3`` where another unit of the group has rank 3, ``3`` otherwise; ``2.5`` for a half rank."""
    r = pl.col(rank)
    text = pl.when(r == r.floor()).then(r.cast(pl.Int64).cast(pl.String)).otherwise(r.cast(pl.String))
    shared = pl.len().over([*([by] if by else []), rank]) > 1
    return pl.when(r.is_null()).then(None).when(shared).then(pl.lit("=") + text).otherwise(text)


def with_ranks(rs: RuleSet, df: pl.DataFrame) -> pl.DataFrame:
    """``df`` (one row per unit, in registry order) with ``rank`` — the total's, ``min`` ties on the
    tie key — and ``k:``/``kl:`` columns for every ranked node."""
    root = rs.nodes[ROOT].rank
    total = Ranking(digits=root.digits if root is not None else DEFAULT_DIGITS)
    df = df.with_columns(rank_expr(pl.col("total"), total).alias("rank"))
    ranked = [x for x in rs.nodes.values() if x.rank is not None]
    if not ranked:
        return df
    df = df.with_columns([rank_expr(reported(rs, x) if x.rank.on == "reported" else pl.col(f"s:{x.id}"),
                                    x.rank).alias(rank_col(x.id)) for x in ranked if x.rank is not None])
    return df.with_columns([label_expr(rank_col(x.id), x.rank.by).alias(label_col(x.id))
                            for x in ranked if x.rank is not None])
