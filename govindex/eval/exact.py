"""Exact sums per row: the correctly rounded value of the exact sum of a row's terms.

:func:`fsum_rows` returns, for every row of a 2-D array, the same double as Python's
``math.fsum`` of that row (CPython's algorithm, Shewchuk's "adaptive precision" summation with
its final half-even correction), computed for all rows at once in numpy:

1. the row's running sum is kept exactly as a list of non-overlapping *partials* (doubles whose
   exact sum is the exact sum of the terms seen so far). A new term ``x`` is added to each partial
   ``y`` in turn by an error-free transformation (``hi = x + y``, ``lo = y − (hi − x)`` with
   ``|x| ≥ |y|``: ``hi + lo = x + y`` exactly); each non-zero ``lo`` stays a partial and ``hi``
   goes on; the last ``hi`` joins the partials when it is not zero. Rows are processed together:
   a partial slot is a column of a ``rows × (terms + 1)`` array, and rows with fewer partials
   are masked out.
2. the partials are added from the largest down until an addition is inexact; if the next
   partial lies on the same side as the rounding error, the sum was a near-half case and is
   corrected as ``math.fsum`` does (``hi + 2·lo`` when that is exact).

The result is the exact sum rounded to the nearest double (ties to even), so it does not depend
on the order of the terms. Rows holding a NaN or an infinity are summed plainly (they have no
exact sum); the tree never produces them.

:func:`div` is the one way the engine divides a column by a constant: as IEEE division.
"""

from __future__ import annotations

import numpy as np
import polars as pl


def div(num: pl.Expr, den: float | pl.Expr) -> pl.Expr:
    """``num / den`` as one IEEE division, the correctly rounded quotient. polars divides a column
    by a scalar (a literal, or an expression polars folds to one: a ``when/then`` of literals, an
    aggregation such as ``x.max()`` broadcast over the column) as a multiplication by its
    reciprocal — a different double for about one value in seven (6 / 10 → 0.6000000000000001) —
    while a column divided by a column is true division; so the divisor is made a column:
    ``0·[num is null] + den`` is ``den`` on every row (an infinite or NaN ``num`` stays one, as
    ``x / 0.5`` of an infinite ``x`` is infinite). ``den`` may be a number or an expression (a
    per-row divisor, or a scalar such as a window statistic)."""
    return num / (num.is_null().cast(pl.Float64) * 0.0 + den)


def fsum_rows(terms: np.ndarray) -> np.ndarray:
    """``math.fsum`` of each row of ``terms`` (``rows × k``, float64), bit for bit."""
    a = np.asarray(terms, dtype=np.float64)
    rows, k = a.shape
    if k == 0 or rows == 0:
        return np.zeros(rows)
    partials, count = _partials(a)
    out = _round_partials(partials, count)
    bad = ~np.isfinite(a).all(axis=1)
    if bad.any():
        out[bad] = a[bad].sum(axis=1)
    return out


def _partials(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rows, k = a.shape
    idx = np.arange(rows)
    p = np.zeros((rows, k + 1))
    count = np.zeros(rows, dtype=np.intp)
    with np.errstate(invalid="ignore", over="ignore"):
        for j in range(k):
            x = a[:, j].copy()
            w = np.zeros(rows, dtype=np.intp)  # where the next kept partial goes (w ≤ i)
            for i in range(int(count.max())):
                act = i < count
                y = p[:, i].copy()
                swap = np.abs(x) < np.abs(y)
                big, small = np.where(swap, y, x), np.where(swap, x, y)
                hi = big + small
                lo = small - (hi - big)
                keep = act & (lo != 0.0)
                p[idx[keep], w[keep]] = lo[keep]
                w += keep
                x = np.where(act, hi, x)
            p[idx, w] = np.where(x != 0.0, x, 0.0)
            count = w + (x != 0.0)
    return p, count


def _round_partials(p: np.ndarray, count: np.ndarray) -> np.ndarray:
    rows = p.shape[0]
    idx = np.arange(rows)
    m = count.copy()
    has = m > 0
    hi = np.where(has, p[idx, np.maximum(m - 1, 0)], 0.0)
    m = np.where(has, m - 1, m)
    lo = np.zeros(rows)
    active = m > 0
    while active.any():
        y = p[idx, np.maximum(m - 1, 0)]
        new_hi = hi + y
        new_lo = y - (new_hi - hi)
        hi = np.where(active, new_hi, hi)
        lo = np.where(active, new_lo, lo)
        m = np.where(active, m - 1, m)
        active = active & (lo == 0.0) & (m > 0)
    below = p[idx, np.maximum(m - 1, 0)]
    near_half = (m > 0) & (((lo < 0.0) & (below < 0.0)) | ((lo > 0.0) & (below > 0.0)))
    y = lo * 2.0
    x = hi + y
    return np.where(near_half & (x - hi == y), x, hi)
