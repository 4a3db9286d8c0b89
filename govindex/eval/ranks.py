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

import numpy as np
import polars as pl

from govindex.eval.node_values import val_col
from govindex.eval.rounding import round_expr
from govindex.ir import ROOT, Node, Ranking, RuleSet

DEFAULT_DIGITS = 12
MAX_DECIMALS = 22  # 10^22 is the largest power of ten a double holds exactly
# The double nearest to 10^k for k = −22 … 22 (Python divides integers correctly rounded).
_POW10 = np.array([float(10**k) if k >= 0 else 1 / 10**-k for k in range(-22, 23)])


def rank_col(node: str) -> str:
    return f"k:{node}"


def label_col(node: str) -> str:
    return f"kl:{node}"


def on_scale(x: Node) -> pl.Expr:
    """Node ``x``'s value as every output shows it: ``val:<x>`` (:mod:`govindex.eval.node_values`)."""
    return pl.col(val_col(x.id))


def reported(rs: RuleSet, x: Node) -> pl.Expr:
    """The value every output shows for ``x``: on its scale, rounded by the rule set's ``rounding``."""
    return round_expr(on_scale(x), rs.rounding.digits, rs.rounding.mode)


def tie_keys(values: np.ndarray, digits: int = DEFAULT_DIGITS) -> np.ndarray:
    """Each value rounded half-even to ``digits`` significant digits of its ``repr`` (see the
    module docstring); NaN (a null) and infinities unchanged, zero is ``0.0``."""
    v = np.asarray(values, dtype=np.float64)
    a = np.abs(v)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        e0 = np.clip(np.nan_to_num(np.floor(np.log10(a)), nan=0.0, posinf=21.0, neginf=-22.0), -22, 21).astype(int)
        # log10 may be off by one next to a power of ten: compare with the powers themselves.
        e = np.where(a < _POW10[e0 + 22], e0 - 1, np.where(a >= _POW10[e0 + 23], e0 + 1, e0))
        p = _POW10[np.clip(digits - 1 - e, 0, MAX_DECIMALS) + 22]
        f = np.floor(a * p)
        lo, hi = (2.0 * f - 1.0) / (2.0 * p), (2.0 * f + 1.0) / (2.0 * p)  # midpoints, one IEEE division each
        k = np.select([a < lo, a == lo, a < hi, a == hi], [f - 1.0, _even(f - 1.0), f, _even(f)], f + 1.0)
        mag = k / p
    key = np.where(v < 0.0, -mag, mag)
    return np.where(~np.isfinite(v), v, np.where(v == 0.0, 0.0, key))


def _even(k: np.ndarray) -> np.ndarray:
    return np.where(k % 2.0 == 0.0, k, k + 1.0)


def rank_expr(key: pl.Expr, ranking: Ranking) -> pl.Expr:
    """The rank of each unit's tie ``key`` (:func:`tie_keys`; higher is better) by ``ranking``;
    null for a null key."""
    r = key.rank(ranking.ties, descending=True)
    r = r.cast(pl.Float64) if ranking.ties == "average" else r.cast(pl.Int64)
    return r.over(ranking.by) if ranking.by is not None else r


def with_keys(df: pl.DataFrame, values: dict[str, tuple[pl.Expr, int]]) -> pl.DataFrame:
    """``df`` with a tie-key column per entry: name → (the value, significant digits compared)."""
    if not values:
        return df
    block = df.select([e.cast(pl.Float64).fill_nan(None).alias(c) for c, (e, _) in values.items()])
    return df.with_columns([pl.Series(c, tie_keys(block[c].to_numpy(), d), dtype=pl.Float64).fill_nan(None)
                            for c, (_, d) in values.items()])


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
    ranked = [(x, x.rank) for x in rs.nodes.values() if x.rank is not None]
    values = {"__key": (pl.col("total"), root.digits if root is not None else DEFAULT_DIGITS)}
    values |= {f"__key:{x.id}": (reported(rs, x) if r.on == "reported" else on_scale(x), r.digits)
               for x, r in ranked}
    df = with_keys(df, values)
    df = df.with_columns(rank_expr(pl.col("__key"), Ranking()).alias("rank"),
                         *[rank_expr(pl.col(f"__key:{x.id}"), r).alias(rank_col(x.id)) for x, r in ranked])
    df = df.with_columns([label_expr(rank_col(x.id), r.by).alias(label_col(x.id)) for x, r in ranked])
    return df.drop(list(values))
