"""The ``mean`` rounds policy (§11): a point's rate over the rounds that have one, exactly.

The rate is the double nearest the exact arithmetic mean of the rounds' rates — the definition
of :func:`govindex.eval.stats.mean` (``units_mean``): the rates summed as rational numbers,
divided by their count, rounded once. It depends neither on the order of the rounds nor on
threads: the mean of 0.1, 0.2 and 0.3 is 0.2, where a float sum in round order, then a division,
gives 0.20000000000000004. A point with no round with a rate has none (null).

How: a double is ``m / 2^k`` exactly (``float.as_integer_ratio``), so the rates are brought to
their largest denominator ``2^K`` and summed as integers, and the mean is the integer quotient
``N / (n · 2^K)``, which Python's ``int / int`` rounds correctly (once, to nearest, ties to even)
— the value ``stats.mean`` computes with ``Fraction``, several times faster.
"""

from __future__ import annotations

import polars as pl


def rounds_collected(rate: pl.Expr) -> pl.Expr:
    """The aggregation of a ``mean`` point's rate in the group by unit: its rates as a list."""
    return rate.drop_nulls()


def exact_means(df: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """``df`` with each list column of ``columns`` replaced by the exact mean of its list."""
    if not columns:
        return df
    return df.with_columns([pl.Series(c, [exact_mean(v) for v in df[c].to_list()], dtype=pl.Float64)
                            for c in columns])


def exact_mean(values: list[float] | None) -> float | None:
    """The double nearest the exact mean of finite ``values``; None without values."""
    if not values:
        return None
    if len(values) == 1:
        return float(values[0])
    ratios = [float(v).as_integer_ratio() for v in values]
    den = max(d for _, d in ratios)  # every denominator is a power of two, so each divides this one
    return sum(n * (den // d) for n, d in ratios) / (den * len(values))
